"""KPIs of a time window computed from the platform's stored samples (any TimeSeriesStore).

Which machines get which KPI depends on the tags they have (see docs/kpi.md):

* OEE, losses, Pareto, MTBF/MTTR: a ``state`` tag (``running``/``idle``/``down``), ideally with
  ``reason_code``, ``good_count``, ``reject_count`` and ``ideal_cycle_time`` (or the asset
  attribute ``ideal_cycle_s``); a bool ``running`` tag gives availability-only figures.
* scrap: ``good_count`` and ``reject_count`` counters.
* energy: an ``energy`` meter (kWh, cumulative) or, without one, a ``power`` tag (kW);
  peak demand and idle-energy waste need ``power`` (and a state for the waste).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ..analytics.kpi import (
    OeeResult,
    OeeTracker,
    TagMap,
    combine,
    demand_profile,
    energy_by_state,
    energy_kwh,
    events_from_samples,
    meter_delta,
    peak_demand,
)
from ..core.assets import Plant
from ..core.sample import Quality

log = logging.getLogger(__name__)
LIMIT = 20_000_000
TAGS = TagMap()


@dataclass
class MachineKpis:
    """What one machine did in one window."""

    asset: str
    oee: OeeResult | None = None
    good: int = 0
    reject: int = 0
    kwh: float | None = None
    idle_kwh: float | None = None
    peak_kw: float | None = None
    demand: list[tuple[int, float]] = field(default_factory=list)  # 15-min average kW
    notes: list[str] = field(default_factory=list)

    @property
    def units(self) -> int:
        return self.good + self.reject

    def as_dict(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "oee": self.oee.as_dict() if self.oee else None,
            "good": self.good,
            "reject": self.reject,
            "kwh": self.kwh,
            "idle_kwh": self.idle_kwh,
            "kwh_per_unit": self.kwh / self.good if self.kwh is not None and self.good else None,
            "peak_kw": self.peak_kw,
            "notes": self.notes,
        }


async def _numeric(store: Any, asset: str, tag: str, start: int, end: int) -> list[tuple[int, float]]:
    rows = await store.history(asset, tag, start, end, limit=LIMIT)
    return [
        (s.ts, float(s.value))
        for s in rows
        if s.quality != Quality.BAD and isinstance(s.value, int | float) and not isinstance(s.value, bool)
    ]


async def _last_before(store: Any, asset: str, tag: str, start: int, lookback_ns: int) -> list[Any]:
    rows = await store.history(asset, tag, start - lookback_ns, start, limit=LIMIT)
    return rows[-1:]


async def machine_kpis(
    store: Any, plant: Plant, asset: str, start: int, end: int, *, lookback_ns: int = 3_600_000_000_000
) -> MachineKpis:
    """KPIs of one machine in ``[start, end)`` (the state before ``start`` is looked up too)."""
    a = plant.asset(asset)
    tags = {t.name for t in a.tags}
    out = MachineKpis(asset)
    stops = []
    if TAGS.state in tags or TAGS.running in tags:
        samples = []
        for tag in TAGS.kpi_tags():
            if tag in tags:
                samples += await _last_before(store, asset, tag, start, lookback_ns)
                samples += await store.history(asset, tag, start, end, limit=LIMIT)
        ideal = a.attributes.get("ideal_cycle_s")
        tracker = OeeTracker(ideal_cycle_s=float(ideal) if ideal is not None else None)
        events = events_from_samples(samples, TAGS)
        if ideal is None and TAGS.ideal_cycle not in tags:
            events = [{k: v for k, v in e.items() if k not in ("good", "reject")} for e in events]
            out.notes.append("no ideal cycle time: availability only")
        tracker.fit(events)
        if tracker.first_ts is not None:
            out.oee = tracker.result(start, end)
            stops = tracker.stops(max(start, tracker.first_ts), end)
    if TAGS.good in tags and TAGS.reject in tags:
        for name in ("good", "reject"):
            tag = getattr(TAGS, name)
            prev = await _last_before(store, asset, tag, start, lookback_ns)
            readings = [(s.ts, float(s.value)) for s in prev] + await _numeric(store, asset, tag, start, end)
            setattr(out, name, round(meter_delta(readings)))
    if TAGS.energy in tags:
        prev = await _last_before(store, asset, TAGS.energy, start, lookback_ns)
        readings = [(s.ts, float(s.value)) for s in prev] + await _numeric(
            store, asset, TAGS.energy, start, end
        )
        out.kwh = meter_delta(readings) if len(readings) > 1 else None
    if TAGS.power in tags:
        power = await _numeric(store, asset, TAGS.power, start, end)
        if power:
            if out.kwh is None:
                out.kwh = energy_kwh(power, end=end)
            out.peak_kw = peak_demand(power)["kw"]
            out.demand = demand_profile(power, 900)
            if stops:
                by_state = energy_by_state(power, stops, end)
                out.idle_kwh = by_state["idle"] + by_state["down"]
    return out


def line_oee(machines: list[MachineKpis]) -> OeeResult | None:
    """Time-weighted OEE of the machines that count units (availability-only ones left out)."""
    counted = [m.oee for m in machines if m.oee is not None and m.oee.total > 0]
    return combine(counted) if counted else None


def kpi_machines(plant: Plant) -> list[str]:
    """Assets with any KPI input tag (state, running, counters, energy, power)."""
    wanted = {TAGS.state, TAGS.running, TAGS.good, TAGS.energy, TAGS.power}
    return [a.path for a in plant.assets() if wanted & {t.name for t in a.tags}]


async def window_kpis(
    store: Any, plant: Plant, start: int, end: int, assets: list[str] | None = None
) -> list[MachineKpis]:
    """KPIs of every KPI-capable machine (or of ``assets``) in one window."""
    out = []
    for path in assets if assets is not None else kpi_machines(plant):
        out.append(await machine_kpis(store, plant, path, start, end))
    return out
