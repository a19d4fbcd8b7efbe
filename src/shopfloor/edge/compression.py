"""Per-tag compression before buffering: deadband and swinging-door trending (SDT).

Both are exception-reporting filters fed one point at a time. ``offer(ts, value)`` returns the
points to keep (zero, one or two); ``flush()`` returns the point being held back, so nothing
is lost at the end of a run. Non-numeric values (text, enumerations) and booleans are kept
whenever they change.

* **deadband**: keep a value when it differs from the last kept one by more than ``deviation``
  (or when ``max_interval_s`` passed since the last kept one). Holding the last kept value
  reproduces every input within ``deviation``.
* **swinging door**: keep the points whose straight-line interpolation reproduces every
  dropped point within ``deviation`` (Bristol's SDT, in its exact form: the door is the
  interval of slopes from the last kept point that pass every dropped point within
  ``deviation``; a segment ends when the new point's slope leaves it). The last point of a
  segment is held back until the next one decides whether the segment goes on.

>>> sd = SwingingDoor(deviation=0.5)
>>> kept = [p for t, v in enumerate([0, 1, 2, 3, 4, 10, 10, 10]) for p in sd.offer(t, float(v))]
>>> kept + sd.flush()
[(0, 0.0), (4, 4.0), (5, 10.0), (7, 10.0)]
>>> db = Deadband(deviation=1.0)
>>> [p for t, v in enumerate([0.0, 0.5, 0.9, 1.5, 1.6]) for p in db.offer(t, v)] + db.flush()
[(0, 0.0), (3, 1.5), (4, 1.6)]
"""

from __future__ import annotations

import math
from typing import Any, Literal

Point = tuple[int, Any]
Method = Literal["none", "deadband", "swinging_door"]


class Passthrough:
    """Keeps every point."""

    def offer(self, ts: int, value: Any) -> list[Point]:
        return [(ts, value)]

    def flush(self) -> list[Point]:
        return []


def _numeric(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


class Deadband:
    """Absolute deadband with an optional heartbeat (``max_interval_s``)."""

    def __init__(self, deviation: float, max_interval_s: float = 0.0) -> None:
        self.deviation = deviation
        self.max_ns = int(max_interval_s * 1e9)
        self._kept: Point | None = None
        self._held: Point | None = None

    def offer(self, ts: int, value: Any) -> list[Point]:
        kept = self._kept
        if (
            kept is None
            or not (_numeric(value) and _numeric(kept[1]))
            or abs(value - kept[1]) > self.deviation
            or (self.max_ns and ts - kept[0] >= self.max_ns)
        ):
            if not _numeric(value) and kept is not None and value == kept[1] and not self.max_ns:
                return []
            self._kept = (ts, value)
            self._held = None
            return [(ts, value)]
        self._held = (ts, value)
        return []

    def flush(self) -> list[Point]:
        """The last point seen if it was not kept (it closes the series)."""
        held, self._held = self._held, None
        if held is not None:
            self._kept = held
            return [held]
        return []


class SwingingDoor:
    """Swinging-door trending with deviation ``deviation`` and optional ``max_interval_s``."""

    def __init__(self, deviation: float, max_interval_s: float = 0.0) -> None:
        self.deviation = deviation
        self.max_ns = int(max_interval_s * 1e9)
        self._anchor: Point | None = None  # last kept point
        self._last: Point | None = None  # last point seen, not yet kept
        self._up = math.inf  # smallest upper slope
        self._low = -math.inf  # largest lower slope

    def offer(self, ts: int, value: Any) -> list[Point]:
        anchor = self._anchor
        if anchor is None or not (_numeric(value) and _numeric(anchor[1])):
            return self._restart(ts, value)
        if ts <= anchor[0]:
            return []
        dt = ts - anchor[0]
        slope = (value - anchor[1]) / dt
        if self._low <= slope <= self._up:
            # the line anchor -> this point passes every point in between within the deviation
            if self.max_ns and dt >= self.max_ns:  # heartbeat: end the segment here
                self._anchor, self._last = (ts, value), None
                self._up, self._low = math.inf, -math.inf
                return [(ts, value)]
            self._up = min(self._up, (value + self.deviation - anchor[1]) / dt)
            self._low = max(self._low, (value - self.deviation - anchor[1]) / dt)
            self._last = (ts, value)
            return []
        last = self._last
        if last is None:  # cannot happen: the first point after the anchor is always in the door
            return self._restart(ts, value)
        self._anchor = last
        self._last = None
        self._up, self._low = math.inf, -math.inf
        return [last, *self.offer(ts, value)]

    def _restart(self, ts: int, value: Any) -> list[Point]:
        out: list[Point] = []
        if self._last is not None:
            out.append(self._last)
        self._anchor = (ts, value)
        self._last = None
        self._up, self._low = math.inf, -math.inf
        return [*out, (ts, value)]

    def flush(self) -> list[Point]:
        """The held end point of the open segment."""
        last, self._last = self._last, None
        if last is not None:
            self._anchor = last
            self._up, self._low = math.inf, -math.inf
            return [last]
        return []


def make(
    method: Method, deviation: float, max_interval_s: float = 0.0
) -> Passthrough | Deadband | SwingingDoor:
    """A compressor for one tag."""
    if method == "deadband":
        return Deadband(deviation, max_interval_s)
    if method == "swinging_door":
        return SwingingDoor(deviation, max_interval_s)
    return Passthrough()


def reconstruct(kept: list[Point], ts: int, method: Method) -> float:
    """The value a reader of the kept points gets at ``ts``: the last kept value (deadband) or
    the straight line between the kept points around ``ts`` (swinging door).

    >>> kept = [(0, 0.0), (10, 10.0)]
    >>> reconstruct(kept, 4, "swinging_door"), reconstruct(kept, 4, "deadband")
    (4.0, 0.0)
    """
    import bisect

    times = [p[0] for p in kept]
    i = bisect.bisect_right(times, ts) - 1
    if i < 0:
        raise ValueError(f"ts {ts} is before the first kept point")
    if method != "swinging_door" or i == len(kept) - 1 or times[i] == ts:
        return float(kept[i][1])
    (t0, v0), (t1, v1) = kept[i], kept[i + 1]
    return float(v0 + (v1 - v0) * (ts - t0) / (t1 - t0))
