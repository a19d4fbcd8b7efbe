"""Turn a machine's tag samples into KPI events (state changes and counter readings).

The tag names are those of a packaging machine in the simulated plant and of a typical PLC
data block; pass another :class:`TagMap` for other names.

>>> from shopfloor.core.sample import Sample
>>> ev = events_from_samples([Sample("m", "state", 5, "down"), Sample("m", "reason_code", 5, "jam"),
...                           Sample("m", "good_count", 5, 10)])
>>> ev
[{'ts': 5, 'state': 'down', 'reason': 'jam', 'good': 10}]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...core.sample import Quality, Sample


@dataclass(frozen=True, slots=True)
class TagMap:
    """Which tags of a machine carry the KPI inputs."""

    state: str = "state"
    reason: str = "reason_code"
    good: str = "good_count"
    reject: str = "reject_count"
    ideal_cycle: str = "ideal_cycle_time"
    running: str = "running"  # a bool tag, used when there is no state tag (pumps)
    power: str = "power"
    energy: str = "energy"

    def kpi_tags(self) -> tuple[str, ...]:
        return (self.state, self.reason, self.good, self.reject, self.ideal_cycle, self.running)


def events_from_samples(samples: Iterable[Sample], tags: TagMap | None = None) -> list[dict[str, Any]]:
    """One event per timestamp merging state, reason, counters and ideal cycle; bad quality dropped."""
    m = tags or TagMap()
    keys = {
        m.state: "state",
        m.reason: "reason",
        m.good: "good",
        m.reject: "reject",
        m.ideal_cycle: "ideal_cycle_s",
        m.running: "running",
    }
    by_ts: dict[int, dict[str, Any]] = {}
    for s in samples:
        key = keys.get(s.tag)
        if key is None or s.quality == Quality.BAD:
            continue
        ev = by_ts.setdefault(s.ts, {"ts": s.ts})
        if key == "running":
            ev.setdefault("state", "running" if bool(s.value) else "down")
        else:
            ev[key] = s.value
    out = []
    for ts in sorted(by_ts):
        ev = by_ts[ts]
        if "reason" in ev and "state" not in ev:
            ev.pop("reason")  # a reason alone changes nothing
        out.append(ev)
    return out
