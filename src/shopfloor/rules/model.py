"""Rule definitions: one pydantic model, the same from a rules file and from the API.

A rule watches one tag (or, for ``expression``, several tags) of one asset, or of every
asset matching a pattern, and raises one alarm per asset. Condition kinds:

- ``high`` / ``low``: value above / below ``limit``; clears only past ``limit -/+ deadband``.
- ``rate``: rate of change ``(v - v_prev) / dt`` in units per ``per`` (default ``1s``)
  above ``limit``, in ``direction`` ``rise``, ``fall`` or ``both``; ``deadband`` as above.
- ``match``: value equals ``equals`` (one value or a list: bool, number or string).
- ``stale``: no good-quality sample for ``timeout`` (also when none ever arrived).
- ``expression``: a boolean expression over the asset's tags (``expr``).

Every kind takes ``on_delay`` (the condition must hold that long before the alarm rises)
and ``off_delay`` (it must be gone that long before the alarm clears), a ``priority``, a
``message`` and ``suppress_when``: an expression that, while true, suppresses the alarm by
design (for example ``"not running"`` for a pump's vibration alarm).

>>> r = Rule.model_validate({"id": "t_high", "asset": "s/a/l/m", "tag": "t", "kind": "high",
...                          "limit": 90, "deadband": 2, "on_delay": "5s"})
>>> r.on_delay_ns, r.triggers
(5000000000, frozenset({'t'}))
>>> from pydantic import ValidationError
>>> try:
...     Rule.model_validate({"id": "x", "asset": "s/a/l/m", "tag": "t", "kind": "high"})
... except ValidationError as err:
...     print(err.errors()[0]["loc"], err.errors()[0]["msg"])
('limit',) Value error, kind 'high' needs a limit
"""

from __future__ import annotations

import re
import string
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
)

from ..core.clock import parse_duration
from .expr import Expression

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_ASSET = re.compile(r"^[a-z0-9_\-*?\[\]/]+$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
MESSAGE_FIELDS = frozenset({"id", "name", "asset", "tag", "value", "limit", "priority", "kind", "unit"})

Kind = Literal["high", "low", "rate", "match", "stale", "expression"]
Scalar = bool | int | float | str


class Priority(StrEnum):
    """ISA-18.2 alarm priorities, most urgent first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


def _duration(v: str | float) -> str | float:
    ns = parse_duration(v)
    if ns < 0:
        raise ValueError(f"duration {v!r} must not be negative")
    return v


Duration = Annotated[str | float, AfterValidator(_duration)]


class Rule(BaseModel):
    """One rule; see the module docstring for the fields of each kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Unique id: letters, digits, '_', '-', '.'")
    name: str = Field("", description="Short human-readable name")
    asset: str = Field(description="Asset path, or a glob pattern over asset paths ('*/pm1/*')")
    asset_kind: str = Field("", description="Only assets of this kind (with a pattern)")
    kind: Kind = Field(description="high | low | rate | match | stale | expression")
    tag: str = Field(
        "", validate_default=True, description="The watched tag (any name, derived tags included)"
    )
    limit: float | None = Field(None, validate_default=True)
    deadband: float = Field(0.0, ge=0)
    per: Duration = "1s"
    direction: Literal["rise", "fall", "both"] = "both"
    equals: Scalar | list[Scalar] | None = Field(None, validate_default=True)
    timeout: Duration | None = Field(None, validate_default=True)
    expr: str | None = Field(None, validate_default=True)
    on_delay: Duration = 0
    off_delay: Duration = 0
    priority: Priority = Priority.MEDIUM
    message: str = ""
    suppress_when: str | None = None
    max_shelve: Duration = "8h"
    enabled: bool = True
    _origin: str = PrivateAttr("")

    @property
    def origin(self) -> str:
        """Where the rule was defined: ``file.toml:12`` or ``api``."""
        return self._origin

    def set_origin(self, origin: str) -> None:
        self._origin = origin

    # -- field checks (each names its field, so errors point at the right line) ----------------

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(
                f"id {v!r} must be letters, digits, '_', '-' or '.', starting with one of the first"
            )
        return v

    @field_validator("asset")
    @classmethod
    def _asset_ok(cls, v: str) -> str:
        v = v.strip("/")
        if not v or not _ASSET.match(v):
            raise ValueError(f"asset {v!r} must be an asset path or a glob pattern ('*', '?', '[...]')")
        return v

    @field_validator("tag")
    @classmethod
    def _tag_ok(cls, v: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if not v and kind is not None and kind != "expression":
            raise ValueError(f"kind {kind!r} needs a tag")
        if v and not _TAG.match(v):
            raise ValueError(f"tag {v!r} must be lower-case letters, digits, '_' or '-'")
        return v

    @field_validator("limit")
    @classmethod
    def _limit_ok(cls, v: float | None, info: ValidationInfo) -> float | None:
        kind = info.data.get("kind")
        if v is None and kind in ("high", "low", "rate"):
            raise ValueError(f"kind {kind!r} needs a limit")
        if v is not None and kind == "rate" and v <= 0:
            raise ValueError("a rate limit must be positive (use direction for falling rates)")
        return v

    @field_validator("equals")
    @classmethod
    def _equals_ok(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None and info.data.get("kind") == "match":
            raise ValueError("kind 'match' needs equals (a value or a list of values)")
        return v

    @field_validator("timeout")
    @classmethod
    def _timeout_ok(cls, v: str | float | None, info: ValidationInfo) -> str | float | None:
        if info.data.get("kind") == "stale" and (v is None or parse_duration(v) <= 0):
            raise ValueError("kind 'stale' needs a positive timeout ('30s', '5m')")
        return v

    @field_validator("expr")
    @classmethod
    def _expr_ok(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            if info.data.get("kind") == "expression":
                raise ValueError("kind 'expression' needs expr")
            return v
        Expression(v)  # raises ValueError naming what is wrong
        return v

    @field_validator("suppress_when")
    @classmethod
    def _suppress_ok(cls, v: str | None) -> str | None:
        if v is not None:
            Expression(v)
        return v

    @field_validator("message")
    @classmethod
    def _message_ok(cls, v: str) -> str:
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(v) if f is not None}
        except ValueError as err:
            raise ValueError(f"message template is not valid: {err}") from None
        unknown = sorted(f for f in fields if f.split(".")[0].split("[")[0] not in MESSAGE_FIELDS)
        if unknown:
            raise ValueError(f"message uses unknown field(s) {unknown}; use {sorted(MESSAGE_FIELDS)}")
        return v

    @field_validator("max_shelve")
    @classmethod
    def _max_shelve_ok(cls, v: str | float) -> str | float:
        if parse_duration(v) <= 0:
            raise ValueError("max_shelve must be positive")
        return v

    # -- derived ---------------------------------------------------------------------------------

    @property
    def on_delay_ns(self) -> int:
        return parse_duration(self.on_delay)

    @property
    def off_delay_ns(self) -> int:
        return parse_duration(self.off_delay)

    @property
    def per_ns(self) -> int:
        return parse_duration(self.per)

    @property
    def timeout_ns(self) -> int:
        return parse_duration(self.timeout) if self.timeout is not None else 0

    @property
    def max_shelve_ns(self) -> int:
        return parse_duration(self.max_shelve)

    @property
    def is_pattern(self) -> bool:
        return any(c in self.asset for c in "*?[")

    @property
    def triggers(self) -> frozenset[str]:
        """Tag names whose samples must reach this rule (condition and suppression)."""
        names: set[str] = set()
        if self.kind == "expression" and self.expr:
            names |= Expression(self.expr).names
        elif self.tag:
            names.add(self.tag)
        if self.suppress_when:
            names |= Expression(self.suppress_when).names
        return frozenset(names)

    def to_dict(self) -> dict[str, Any]:
        """The rule as given (defaults left out): the API's and the database's form."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def describe(self) -> str:
        """A default alarm message."""
        what = (self.expr or "") if self.kind == "expression" else f"{self.tag} {self.kind}"
        if self.kind in ("high", "low", "rate"):
            what += f" {self.limit:g}"
        elif self.kind == "stale":
            what += f" {self.timeout}"
        return self.name or what
