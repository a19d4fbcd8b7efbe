"""Stateful condition evaluators and the on/off delay that sits on top of them.

A condition turns samples into a raw truth (``True``, ``False``, or ``None`` for "cannot
tell": a string for a numeric rule, the first sample of a rate). Deadband hysteresis lives
in the condition; :class:`Delay` then requires the raw truth to hold for ``on_delay`` before
the alarm rises and to be gone for ``off_delay`` before it clears. Every evaluator can
:meth:`snapshot` and :meth:`restore` its state, so evaluation resumes after a restart.

>>> c = Threshold(limit=90, deadband=5, high=True)
>>> [c.update(v, 0, 0, {}) for v in (89, 91, 88, 86, 85, 91)]
[False, True, True, True, False, True]
>>> d = Delay(on_ns=10, off_ns=0)
>>> d.feed(True, 0), d.feed(True, 5), d.poll(10), d.feed(False, 11)
(None, None, True, False)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

from ..core.sample import Value
from .expr import Expression
from .model import Rule


def _number(value: Value) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        x = float(value)
        return None if math.isnan(x) else x
    return None


class Condition(Protocol):
    """What the engine needs of a condition."""

    def update(self, value: Value, ts: int, now: int, values: Mapping[str, Value]) -> bool | None:
        """Feed one sample (``ts`` its time, ``now`` its arrival); the raw truth after it."""
        ...

    def poll(self, now: int) -> bool | None:
        """Re-evaluate without a sample (periodic tick); None when time changes nothing."""
        ...

    def snapshot(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...


class _Base:
    __slots__ = ("active",)

    def poll(self, now: int) -> bool | None:
        return None

    def snapshot(self) -> dict[str, Any]:
        return {"active": self.active}

    def restore(self, state: dict[str, Any]) -> None:
        self.active = bool(state.get("active", False))


class Threshold(_Base):
    """Above (``high``) or below a limit; clears only past the deadband."""

    __slots__ = ("deadband", "high", "limit")

    def __init__(self, limit: float, deadband: float = 0.0, high: bool = True) -> None:
        self.limit = limit
        self.deadband = deadband
        self.high = high
        self.active = False

    def update(self, value: Value, ts: int, now: int, values: Mapping[str, Value]) -> bool | None:
        x = _number(value)
        if x is None:
            return None
        if self.high:
            self.active = x > (self.limit - self.deadband if self.active else self.limit)
        else:
            self.active = x < (self.limit + self.deadband if self.active else self.limit)
        return self.active


class Rate(_Base):
    """Rate of change between consecutive samples, in units per ``per_ns``."""

    __slots__ = ("deadband", "direction", "limit", "per_ns", "prev_ts", "prev_x", "rate")

    def __init__(self, limit: float, per_ns: int, direction: str = "both", deadband: float = 0.0) -> None:
        self.limit = limit
        self.per_ns = per_ns
        self.direction = direction
        self.deadband = deadband
        self.active = False
        self.prev_x: float | None = None
        self.prev_ts = 0
        self.rate: float | None = None

    def update(self, value: Value, ts: int, now: int, values: Mapping[str, Value]) -> bool | None:
        x = _number(value)
        if x is None:
            return None
        prev_x, prev_ts = self.prev_x, self.prev_ts
        if prev_x is not None and ts <= prev_ts:
            return None  # duplicate or out of order: no rate
        self.prev_x, self.prev_ts = x, ts
        if prev_x is None:
            return None
        rate = (x - prev_x) * self.per_ns / (ts - prev_ts)
        self.rate = rate
        signed = rate if self.direction == "rise" else -rate if self.direction == "fall" else abs(rate)
        threshold = self.limit - self.deadband if self.active else self.limit
        self.active = signed > threshold
        return self.active

    def snapshot(self) -> dict[str, Any]:
        return {"active": self.active, "prev_x": self.prev_x, "prev_ts": self.prev_ts}

    def restore(self, state: dict[str, Any]) -> None:
        super().restore(state)
        self.prev_x = state.get("prev_x")
        self.prev_ts = int(state.get("prev_ts") or 0)


class Match(_Base):
    """The value equals one of the given values (bools, numbers, strings)."""

    __slots__ = "wanted"

    def __init__(self, equals: Any) -> None:
        values = equals if isinstance(equals, list) else [equals]
        self.wanted = frozenset(_norm(v) for v in values)
        self.active = False

    def update(self, value: Value, ts: int, now: int, values: Mapping[str, Value]) -> bool | None:
        self.active = _norm(value) in self.wanted
        return self.active


def _norm(v: Any) -> Any:
    """Make ``True``, ``"true"`` and ``1`` comparable the way a plant engineer expects."""
    if isinstance(v, str):
        low = v.strip().lower()
        return {"true": True, "false": False}.get(low, low)
    if isinstance(v, bool):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


class Stale(_Base):
    """No sample for ``timeout_ns`` (checked on every tick); ``last_seen`` is arrival time."""

    __slots__ = ("last_seen", "timeout_ns")

    def __init__(self, timeout_ns: int, started: int = 0) -> None:
        self.timeout_ns = timeout_ns
        self.last_seen = started
        self.active = False

    def update(self, value: Value, ts: int, now: int, values: Mapping[str, Value]) -> bool | None:
        self.last_seen = now
        self.active = False
        return False

    def poll(self, now: int) -> bool | None:
        self.active = now - self.last_seen >= self.timeout_ns
        return self.active

    def snapshot(self) -> dict[str, Any]:
        return {"active": self.active, "last_seen": self.last_seen}

    def restore(self, state: dict[str, Any]) -> None:
        # A stale tag stays stale across a restart; otherwise the grace period starts again
        # at the restart (the platform was not listening while it was down).
        self.active = bool(state.get("active", False))
        if self.active and state.get("last_seen") is not None:
            self.last_seen = int(state["last_seen"])


class ExprCondition(_Base):
    """A boolean expression over the asset's latest tag values."""

    __slots__ = "expr"

    def __init__(self, expr: Expression) -> None:
        self.expr = expr
        self.active = False

    def update(self, value: Value, ts: int, now: int, values: Mapping[str, Value]) -> bool | None:
        result = self.expr.evaluate(values)
        if result is not None:
            self.active = result
        return result


def build(rule: Rule, started: int = 0) -> Condition:
    """The evaluator for one rule (one per asset the rule applies to)."""
    kind = rule.kind
    if kind in ("high", "low"):
        assert rule.limit is not None
        return Threshold(rule.limit, rule.deadband, high=kind == "high")
    if kind == "rate":
        assert rule.limit is not None
        return Rate(rule.limit, rule.per_ns, rule.direction, rule.deadband)
    if kind == "match":
        return Match(rule.equals)
    if kind == "stale":
        return Stale(rule.timeout_ns, started)
    assert rule.expr is not None
    return ExprCondition(Expression(rule.expr))


class Delay:
    """On/off delay: the raw truth must hold ``on_ns`` to rise, be gone ``off_ns`` to clear."""

    __slots__ = ("active", "off_ns", "on_ns", "pending", "raw")

    def __init__(self, on_ns: int = 0, off_ns: int = 0) -> None:
        self.on_ns = on_ns
        self.off_ns = off_ns
        self.active = False
        self.raw = False
        self.pending: int | None = None  # since when raw has differed from active

    def feed(self, raw: bool, now: int) -> bool | None:
        """A new raw truth at ``now``; the new state when it changes, else None."""
        self.raw = raw
        if raw == self.active:
            self.pending = None
            return None
        if self.pending is None:
            self.pending = now
        return self._due(now)

    def poll(self, now: int) -> bool | None:
        """Complete a pending delay whose time has come."""
        if self.pending is None:
            return None
        return self._due(now)

    def _due(self, now: int) -> bool | None:
        assert self.pending is not None
        if now - self.pending >= (self.on_ns if self.raw else self.off_ns):
            self.active = self.raw
            self.pending = None
            return self.active
        return None

    def snapshot(self) -> dict[str, Any]:
        return {"raw": self.raw, "pending": self.pending}

    def restore(self, state: dict[str, Any], active: bool) -> None:
        self.active = active
        self.raw = bool(state.get("raw", active))
        pending = state.get("pending")
        self.pending = int(pending) if pending is not None else None
