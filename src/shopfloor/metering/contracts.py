"""Product-as-a-service contracts: who pays for which asset's use, measured how, at what price.

A contracts file (TOML)::

    [[contract]]
    id = "c-1001"
    customer = "Nordic Board AB"
    asset = "riverside/papermaking/pm1/stock_pump"
    metric = "run_hours"            # run_hours | cycles | units
    tag = "run_hours"               # the counter (or state/running tag) that measures it
    currency = "EUR"

    [contract.tariff]
    base_fee = 200.0                # per month
    minimum = 500.0                 # the month's charge is at least this (base fee included)
    tiers = [ { up_to = 400, price = 1.50 }, { price = 1.20 } ]   # graduated; last is open-ended

Tiers are graduated: the first ``up_to`` units at the first price, the next at the second, ...

>>> t = Tariff(base_fee=100, minimum=0, tiers=[Tier(up_to=10, price=2.0), Tier(price=1.0)])
>>> [(line.quantity, line.amount) for line in t.lines(15)]
[(10.0, 20.0), (5.0, 5.0)]
>>> t.charge(15)
125.0
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..core.errors import ConfigError

Metric = Literal["run_hours", "cycles", "units"]
METRIC_UNITS = {"run_hours": "h", "cycles": "cycles", "units": "units"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    up_to: float | None = Field(None, gt=0, description="Upper bound of cumulative usage; None: no bound")
    price: float = Field(ge=0, description="Price per unit of usage within this tier")


class ChargeLine(BaseModel):
    description: str
    quantity: float
    price: float
    amount: float


class Tariff(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_fee: float = Field(0.0, ge=0, description="Fixed fee per month")
    minimum: float = Field(0.0, ge=0, description="Minimum monthly charge (base fee included)")
    tiers: list[Tier] = Field(min_length=1, description="Graduated usage prices, ascending bounds")

    @model_validator(mode="after")
    def _ascending(self) -> Tariff:
        bounds = [t.up_to for t in self.tiers]
        if any(b is None for b in bounds[:-1]):
            raise ValueError("only the last tier may be open-ended (no up_to)")
        numeric = [b for b in bounds if b is not None]
        if numeric != sorted(numeric) or len(set(numeric)) != len(numeric):
            raise ValueError(f"tier bounds must be strictly ascending, got {numeric}")
        return self

    def lines(self, quantity: float) -> list[ChargeLine]:
        """Usage charge lines of ``quantity`` through the tiers (usage beyond a closed last tier
        is priced at the last tier)."""
        out, lower = [], 0.0
        for i, tier in enumerate(self.tiers):
            last = i == len(self.tiers) - 1
            upper = float("inf") if (tier.up_to is None or last) else tier.up_to
            q = max(0.0, min(quantity, upper) - lower)
            if q > 0:
                label = f"usage {lower:g}-{upper:g}" if upper != float("inf") else f"usage over {lower:g}"
                out.append(ChargeLine(description=label, quantity=q, price=tier.price, amount=q * tier.price))
            lower = upper
            if quantity <= lower:
                break
        return out

    def charge(self, quantity: float) -> float:
        """The month's charge: base fee plus usage, at least the minimum."""
        usage = sum(line.amount for line in self.lines(quantity))
        return max(self.minimum, self.base_fee + usage)


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    customer: str = Field(min_length=1)
    asset: str = Field(min_length=1)
    metric: Metric
    tag: str = Field(min_length=1, description="Counter tag, or a state/running tag for run hours")
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    tariff: Tariff

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"contract id {v!r} must be letters, digits, '_', '.' or '-' (max 64)")
        return v

    @property
    def unit(self) -> str:
        return METRIC_UNITS[self.metric]


def load_contracts(path: str | Path) -> list[Contract]:
    """Read a contracts file; ConfigError names the file and the contract that is wrong."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read contracts file {str(p)!r}: {err.strerror}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"contracts file {str(p)!r} is not valid TOML: {err}") from err
    out: list[Contract] = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("contract", [])):
        where = raw.get("id", f"#{i + 1}") if isinstance(raw, dict) else f"#{i + 1}"
        try:
            c = Contract.model_validate(raw)
        except ValidationError as err:
            detail = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in err.errors())
            raise ConfigError(f"{p}: contract {where!r}: {detail}") from None
        if c.id in seen:
            raise ConfigError(f"{p}: contract {c.id!r} is declared twice")
        seen.add(c.id)
        out.append(c)
    return out
