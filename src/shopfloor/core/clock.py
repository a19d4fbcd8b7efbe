"""Clocks and timestamps. All times are UTC epoch nanoseconds (``int``).

>>> parse_ts("2024-01-01T00:00:00Z")
1704067200000000000
>>> parse_ts(1704067200) == parse_ts(1704067200000) == parse_ts(1704067200000000000)
True
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

NS = 1_000_000_000

# Numeric timestamps are read by magnitude: seconds up to 1e11 (year 5138),
# milliseconds up to 1e14, microseconds up to 1e17, nanoseconds above.
_S_MAX = 1e11
_MS_MAX = 1e14
_US_MAX = 1e17


class Clock(Protocol):
    """Anything that tells the time in epoch nanoseconds."""

    def now_ns(self) -> int: ...


class WallClock:
    """The real UTC time."""

    def now_ns(self) -> int:
        return time.time_ns()


class ManualClock:
    """A clock that moves only when told (tests, simulation).

    >>> c = ManualClock(10); c.advance(5); c.now_ns()
    15
    """

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance(self, ns: int) -> None:
        self._now += ns

    def set(self, ns: int) -> None:
        self._now = ns


def now_ns() -> int:
    """The current UTC time in epoch nanoseconds."""
    return time.time_ns()


def parse_ts(raw: object) -> int:
    """Parse an ISO 8601 string or an epoch number (s, ms, us or ns by magnitude).

    Raises ``ValueError`` naming the value when it cannot be read.
    """
    if isinstance(raw, bool):
        raise ValueError(f"timestamp must be a number or ISO 8601 string, got {raw!r}")
    if isinstance(raw, int | float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise ValueError(f"timestamp {raw!r} is not a finite number")
        if raw < 0:
            raise ValueError(f"timestamp {raw!r} is before 1970")
        if raw < _S_MAX:
            return round(raw * NS)
        if raw < _MS_MAX:
            return round(raw * 1_000_000)
        if raw < _US_MAX:
            return round(raw * 1_000)
        if raw > 2**63 - 1:
            raise ValueError(f"timestamp {raw!r} is out of range")
        return int(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"timestamp {raw!r} is not ISO 8601") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return to_ns(dt)
    raise ValueError(f"timestamp must be a number or ISO 8601 string, got {type(raw).__name__}")


def to_ns(dt: datetime) -> int:
    """A datetime (naive means UTC) as epoch nanoseconds."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1_000


def to_datetime(ns: int) -> datetime:
    """Epoch nanoseconds as an aware UTC datetime (microsecond precision)."""
    return datetime.fromtimestamp(ns / NS, tz=UTC)


def iso(ns: int) -> str:
    """Epoch nanoseconds as ISO 8601 with a Z.

    >>> iso(1704067200000000000)
    '2024-01-01T00:00:00Z'
    """
    text = to_datetime(ns).isoformat().replace("+00:00", "Z")
    return text


def parse_when(text: str) -> int:
    """A point in time as people type it: ``now``, relative to now (``-6h``, ``-30m``), epoch
    seconds/ms/ns or ISO 8601; ValueError naming what is wrong.

    >>> parse_when("1700000000") == 1_700_000_000 * 10**9
    True
    >>> now_ns() - parse_when("-1h") - 3600 * 10**9 < 10**9
    True
    """
    text = text.strip()
    if text == "now":
        return now_ns()
    if text.startswith("-"):
        return now_ns() - parse_duration(text[1:])
    try:
        return parse_ts(float(text))
    except ValueError:
        return parse_ts(text)


def parse_duration(raw: str | int | float) -> int:
    """Parse '30s', '5m', '6h', '30d', '2w', '500ms' (or seconds as a number) into ns.

    >>> parse_duration("6h") == 6 * 3600 * NS, parse_duration("500ms")
    (True, 500000000)
    """
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        try:
            return int(raw * NS)
        except (OverflowError, ValueError):  # inf, nan (found by tests/security/test_fuzz.py)
            raise ValueError(f"duration {raw!r} is not a finite number of seconds") from None
    if not isinstance(raw, str):
        raise ValueError(f"duration must be like '30s', '5m', '6h', '30d', got {raw!r}")
    text = raw.strip().lower()
    units = (
        ("ms", NS // 1000),
        ("us", 1000),
        ("ns", 1),
        ("s", NS),
        ("m", 60 * NS),
        ("h", 3600 * NS),
        ("d", 86400 * NS),
        ("w", 7 * 86400 * NS),
    )
    for suffix, mult in units:
        if text.endswith(suffix):
            number = text[: -len(suffix)]
            try:
                return int(float(number) * mult)
            except (ValueError, OverflowError):  # '1e400s' overflows (found by fuzzing)
                break
    raise ValueError(f"duration {raw!r} is not like '30s', '5m', '6h', '30d', '2w', '500ms'")
