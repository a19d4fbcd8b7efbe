"""Energy and sustainability KPIs: kWh per unit, peak demand, idle-energy waste, CO2e, anomalies.

Power samples are ``(ts_ns, kW)`` pairs, energy meter readings ``(ts_ns, kWh)`` cumulative.
Power is held from one sample to the next (a step function, what a PLC's last value means).

>>> pts = [(0, 10.0), (900 * NS, 30.0), (1800 * NS, 0.0)]
>>> energy_kwh(pts)
10.0
>>> peak_demand(pts, interval_s=900)
{'kw': 30.0, 'start': 900000000000, 'interval_s': 900}
>>> round(co2e_kg(100.0, EmissionFactors(grid_kg_per_kwh=0.35)), 3)
35.0
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .oee import NS, KpiInputError, Stop

HOUR_NS = 3600 * NS


class EmissionFactors(BaseModel):
    """CO2-equivalent per kWh of grid electricity; set it for your site and contract.

    ``by_hour`` (UTC hour -> kg/kWh) overrides the flat factor where a grid publishes hourly
    marginal or average factors. The default is a placeholder of the order of a European grid
    mix; a report states the factor it used.
    """

    model_config = ConfigDict(extra="forbid")

    grid_kg_per_kwh: float = Field(0.3, ge=0, description="kg CO2e per kWh (location-based)")
    by_hour: dict[int, float] = Field(default_factory=dict, description="UTC hour -> kg CO2e per kWh")

    def factor(self, ts: int) -> float:
        hour = (ts // HOUR_NS) % 24
        return self.by_hour.get(hour, self.grid_kg_per_kwh)


def _check(points: Sequence[tuple[int, float]]) -> None:
    for i in range(1, len(points)):
        if points[i][0] < points[i - 1][0]:
            raise KpiInputError(
                f"samples out of time order at index {i}: {points[i][0]} < {points[i - 1][0]}"
            )
    for ts, v in points:
        if not math.isfinite(v):
            raise KpiInputError(f"value at {ts} is not finite: {v!r}")


def _segments(
    points: Sequence[tuple[int, float]], end: int | None = None
) -> Iterable[tuple[int, int, float]]:
    _check(points)
    for i, (ts, kw) in enumerate(points):
        nxt = points[i + 1][0] if i + 1 < len(points) else (end if end is not None else ts)
        if nxt > ts:
            yield ts, nxt, kw


def energy_kwh(power: Sequence[tuple[int, float]], start: int | None = None, end: int | None = None) -> float:
    """Energy of step-held power samples within ``[start, end)`` (default: the samples' span)."""
    total = 0.0
    for s, e, kw in _segments(power, end):
        s2, e2 = max(s, start) if start is not None else s, min(e, end) if end is not None else e
        if e2 > s2:
            total += kw * (e2 - s2) / HOUR_NS
    return total


def meter_delta(readings: Sequence[tuple[int, float]]) -> float:
    """Energy counted by a cumulative meter over its readings; a drop is a reset (counts anew).

    >>> meter_delta([(0, 100.0), (1, 105.0), (2, 2.0), (3, 4.5)])
    9.5
    """
    _check(readings)
    total = 0.0
    for (_, a), (_, b) in pairwise(readings):
        total += b - a if b >= a else b
    return total


def kwh_per_unit(kwh: float, units: int) -> float | None:
    """Specific energy; None when nothing was made."""
    return kwh / units if units > 0 else None


def demand_profile(power: Sequence[tuple[int, float]], interval_s: int = 900) -> list[tuple[int, float]]:
    """Average power (kW) per aligned demand interval (default 15 minutes, as utilities bill)."""
    width = interval_s * NS
    acc: dict[int, float] = {}
    for s, e, kw in _segments(power):
        t = s
        while t < e:
            bucket = t - t % width
            stop = min(e, bucket + width)
            acc[bucket] = acc.get(bucket, 0.0) + kw * (stop - t)
            t = stop
    return [(b, v / width) for b, v in sorted(acc.items())]


def peak_demand(power: Sequence[tuple[int, float]], interval_s: int = 900) -> dict[str, Any]:
    """The highest average power over one demand interval, and when it began."""
    profile = demand_profile(power, interval_s)
    if not profile:
        return {"kw": 0.0, "start": None, "interval_s": interval_s}
    start, kw = max(profile, key=lambda p: (p[1], -p[0]))
    return {"kw": kw, "start": start, "interval_s": interval_s}


def energy_by_state(power: Sequence[tuple[int, float]], stops: Sequence[Stop], end: int) -> dict[str, float]:
    """kWh spent running, idle and down (stops from :meth:`OeeTracker.stops`).

    Energy while not running is idle-energy waste: it makes nothing.
    """
    out = {"running": 0.0, "idle": 0.0, "down": 0.0}
    total = energy_kwh(power, end=end)
    for stop in stops:
        out[stop.state] = out.get(stop.state, 0.0) + energy_kwh(power, stop.start, stop.end)
    out["running"] = max(0.0, total - sum(v for k, v in out.items() if k != "running"))
    return out


def co2e_kg(kwh: float, factors: EmissionFactors, ts: int | None = None) -> float:
    """CO2e (kg) of ``kwh`` of electricity, at the factor of hour ``ts`` if given."""
    return kwh * (factors.factor(ts) if ts is not None else factors.grid_kg_per_kwh)


def co2e_profile_kg(profile: Sequence[tuple[int, float]], interval_s: int, factors: EmissionFactors) -> float:
    """CO2e (kg) of a demand profile, each interval at its own hour's factor."""
    return sum(kw * interval_s / 3600 * factors.factor(ts) for ts, kw in profile)


class EnergyBaseline:
    """Robust baseline of energy per interval in a context (e.g. machine state and hour).

    ``score_one`` is the robust z-score ``(x - median) / (1.4826 MAD)`` against the last
    ``window`` values of the same context; ``is_anomaly`` is ``|z| > threshold`` once
    ``min_count`` values are known. River-shaped: ``learn_one(x)`` with
    ``x = {"context": ..., "kwh": ...}``.

    >>> b = EnergyBaseline(window=50, min_count=5)
    >>> for v in [10.0, 10.5, 9.8, 10.2, 9.9, 10.1]:
    ...     b.learn_one({"context": "running", "kwh": v})
    >>> b.is_anomaly({"context": "running", "kwh": 10.3}), b.is_anomaly({"context": "running", "kwh": 16})
    (False, True)
    """

    def __init__(self, window: int = 96 * 7, threshold: float = 4.0, min_count: int = 12) -> None:
        self.window = window
        self.threshold = threshold
        self.min_count = min_count
        self._values: dict[Any, deque[float]] = {}

    def learn_one(self, x: Mapping[str, Any]) -> None:
        self._values.setdefault(x.get("context"), deque(maxlen=self.window)).append(float(x["kwh"]))

    def score_one(self, x: Mapping[str, Any]) -> float | None:
        values = self._values.get(x.get("context"))
        if not values or len(values) < self.min_count:
            return None
        data = sorted(values)
        med = _median(data)
        mad = _median(sorted(abs(v - med) for v in data)) * 1.4826
        scale = max(mad, 0.01 * abs(med), 1e-9)
        return (float(x["kwh"]) - med) / scale

    def is_anomaly(self, x: Mapping[str, Any]) -> bool:
        z = self.score_one(x)
        return z is not None and abs(z) > self.threshold


def _median(data: Sequence[float]) -> float:
    n = len(data)
    mid = n // 2
    return data[mid] if n % 2 else (data[mid - 1] + data[mid]) / 2
