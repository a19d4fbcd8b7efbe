"""Products in the field: serial numbers from production batches, their usage and failures.

Each batch made by a simulated press ships ``units_per_batch`` products. A product's life (in
usage hours) is Weibull with shape ``BETA`` and a scale that shrinks with its batch's process
history: the fraction of the batch made out of thickness spec and the batch's density
deviation from the reference,

    eta = ETA_GOOD_H / (1 + 12 * out_of_spec_fraction + |density - 720| / 40)

Usage accrues at a per-product rate (hours per day). A product has failed when its usage
reaches its life; the failure time is when that happened.

>>> from shopfloor.sim.machines.press import BatchRecord
>>> good = BatchRecord("G", "p", 0, 86_400 * 10**9, 720.0, n=100, out_of_spec=0)
>>> bad = BatchRecord("B", "p", 0, 86_400 * 10**9, 800.0, n=100, out_of_spec=60)
>>> items = field_products([good, bad], now_ns=120 * 86_400 * 10**9, units_per_batch=400, seed=3)
>>> rate = lambda b: sum(p.failed for p in items if p.batch == b) / 400
>>> rate("B") > 3 * rate("G")
True
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .machines.press import RHO_REF, BatchRecord

NS = 1_000_000_000
DAY_NS = 86_400 * NS
BETA = 1.8  # Weibull shape of product life (wear-out)
ETA_GOOD_H = 3_000.0  # characteristic life of a product from a perfect batch, usage hours
FAILURE_MODES = ("delamination", "edge_crack", "warp")


@dataclass(slots=True, frozen=True)
class FieldProduct:
    """One product in the field, as of ``now``."""

    serial: str
    batch: str
    ship_ns: int
    usage_hours: float
    failed: bool
    failure_ns: int | None
    failure_mode: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def characteristic_life_h(batch: BatchRecord) -> float:
    """Weibull scale (usage hours) of products from a batch."""
    density_dev = abs(batch.density - RHO_REF)
    return ETA_GOOD_H / (1.0 + 12.0 * batch.out_of_spec_fraction + density_dev / 40.0)


def field_products(
    batches: Iterable[BatchRecord],
    now_ns: int,
    units_per_batch: int = 20,
    seed: int = 0,
    ship_delay_days: tuple[float, float] = (1.0, 10.0),
    hours_per_day: tuple[float, float] = (2.0, 16.0),
) -> list[FieldProduct]:
    """Products of finished batches (those with an end) as they stand at ``now_ns``.

    Pass ``sim.batches.values()`` for the batches a :class:`Simulation` has made.
    Deterministic for a seed: each batch draws from its own stream.
    """
    out: list[FieldProduct] = []
    for b in batches:
        if b.end_ns is None:
            continue
        rng = np.random.default_rng([seed, zlib.crc32(b.batch.encode())])
        eta = characteristic_life_h(b)
        ship = b.end_ns + (rng.uniform(*ship_delay_days, units_per_batch) * DAY_NS).astype(np.int64)
        rate = rng.uniform(*hours_per_day, units_per_batch)  # usage hours per day
        life = eta * rng.weibull(BETA, units_per_batch)
        modes = rng.integers(0, len(FAILURE_MODES), units_per_batch)
        for i in range(units_per_batch):
            if ship[i] > now_ns:
                continue
            age_days = (now_ns - int(ship[i])) / DAY_NS
            usage = age_days * rate[i]
            failed = usage >= life[i]
            fail_ns = int(ship[i]) + int(life[i] / rate[i] * DAY_NS) if failed else None
            out.append(
                FieldProduct(
                    serial=f"{b.batch}-{i + 1:05d}",
                    batch=b.batch,
                    ship_ns=int(ship[i]),
                    usage_hours=round(float(min(usage, life[i])), 2),
                    failed=bool(failed),
                    failure_ns=fail_ns,
                    failure_mode=FAILURE_MODES[int(modes[i])] if failed else "",
                )
            )
    return out
