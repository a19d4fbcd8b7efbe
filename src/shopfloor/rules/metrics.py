"""Alarm-system performance per EEMUA 191 (and ISA-18.2 clause 16): pure computation.

Inputs are the annunciations (alarms that became UNACKNOWLEDGED) of a period and the
alarms' current states. Figures:

- **alarm rate**: annunciations per operator per 10 minutes: in the latest window, the
  average and the peak over the period, and the share of windows in *flood* (more than
  ``flood_threshold``, EEMUA's 10, per operator). EEMUA 191's benchmarks: an average under
  1 per 10 minutes is "very likely to be acceptable", under 2 "manageable"; a peak of more
  than 10 is a flood.
- **standing alarms**: alarms active now (UNACKNOWLEDGED or ACKNOWLEDGED); those active for
  longer than ``standing_after`` (24 h) are listed as *stale*.
- **chattering alarms**: an alarm annunciated ``chatter_count`` (3) times or more within
  ``chatter_window`` (1 minute).
- **bad actors**: the alarms annunciated most often; and the priority distribution (EEMUA
  suggests about 80 % low, 15 % medium, 5 % high).

>>> m = compute([(0, "a", "low"), (10, "a", "low"), (20, "a", "low")], [], now=30,
...             window_ns=600, period_ns=600, chatter_window_ns=60)
>>> m["rate"]["latest_window"], m["chattering"]
(3.0, [{'alarm_id': 'a', 'max_in_window': 3}])
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.clock import NS

TEN_MINUTES = 600 * NS


def compute(
    annunciations: Sequence[tuple[int, str, str]],
    alarms: Iterable[dict[str, Any]],
    *,
    now: int,
    window_ns: int = TEN_MINUTES,
    period_ns: int = 24 * 3600 * NS,
    operators: int = 1,
    flood_threshold: int = 10,
    chatter_count: int = 3,
    chatter_window_ns: int = 60 * NS,
    standing_after_ns: int = 24 * 3600 * NS,
    top: int = 10,
) -> dict[str, Any]:
    """The EEMUA 191 figures; ``annunciations`` are ``(ts, alarm_id, priority)`` oldest first."""
    operators = max(1, operators)
    start = now - period_ns
    recent = [a for a in annunciations if start <= a[0] <= now]
    n_windows = max(1, -(-period_ns // window_ns))
    per_window = [0] * n_windows
    for ts, _, _ in recent:
        i = min(n_windows - 1, (ts - start) * n_windows // period_ns)
        per_window[i] += 1
    latest = sum(1 for ts, _, _ in recent if ts > now - window_ns)
    rates = [c / operators for c in per_window]
    flood_windows = sum(1 for r in rates if r > flood_threshold)
    average = sum(rates) / n_windows
    peak = max(rates) if rates else 0.0

    alarm_list = list(alarms)
    states = Counter(str(a["state"]) for a in alarm_list)
    standing = [a for a in alarm_list if a["state"] in ("unacknowledged", "acknowledged")]
    stale = [
        {"alarm_id": a["id"], "active_since": a["activated_at"]}
        for a in standing
        if a.get("activated_at") is not None and now - int(a["activated_at"]) >= standing_after_ns
    ]
    counts = Counter(alarm_id for _, alarm_id, _ in recent)
    priorities = Counter(p for _, _, p in recent)
    total = len(recent)
    return {
        "now": now,
        "period_s": period_ns / NS,
        "window_s": window_ns / NS,
        "operators": operators,
        "annunciated": total,
        "rate": {
            "latest_window": latest / operators,
            "average": round(average, 3),
            "peak": peak,
            "flood_threshold": flood_threshold,
            "flood_windows": flood_windows,
            "flood_share": round(flood_windows / n_windows, 4),
            "assessment": _assess(average, peak, flood_threshold),
        },
        "standing": {"count": len(standing), "stale": stale, "stale_after_s": standing_after_ns / NS},
        "states": dict(sorted(states.items())),
        "chattering": _chattering(recent, chatter_count, chatter_window_ns),
        "bad_actors": [{"alarm_id": a, "count": c} for a, c in counts.most_common(top)],
        "priorities": {p: {"count": c, "share": round(c / total, 4)} for p, c in sorted(priorities.items())},
    }


def _assess(average: float, peak: float, flood: int) -> str:
    """EEMUA 191's words for an average rate per operator per 10 minutes."""
    if average < 1 and peak <= flood:
        return "very likely acceptable"
    if average < 2:
        return "manageable"
    if average < 5:
        return "possibly over-demanding"
    return "very likely unacceptable"


def _chattering(recent: Sequence[tuple[int, str, str]], count: int, window_ns: int) -> list[dict[str, Any]]:
    """Alarms annunciated ``count`` times or more within any ``window_ns``."""
    by_alarm: dict[str, list[int]] = defaultdict(list)
    for ts, alarm_id, _ in recent:
        by_alarm[alarm_id].append(ts)
    out: list[dict[str, Any]] = []
    for alarm_id, times in by_alarm.items():
        if len(times) < count:
            continue
        best = 0
        window: deque[int] = deque()
        for ts in times:
            window.append(ts)
            while ts - window[0] > window_ns:
                window.popleft()
            best = max(best, len(window))
        if best >= count:
            out.append({"alarm_id": alarm_id, "max_in_window": best})
    out.sort(key=lambda x: (-x["max_in_window"], x["alarm_id"]))
    return out
