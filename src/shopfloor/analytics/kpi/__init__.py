"""Plant KPIs, pure compute: OEE and its losses (:mod:`.oee`), energy and CO2e (:mod:`.energy`).

See docs/kpi.md for the definitions and the worked examples the tests check them against.
"""

from .energy import (
    EmissionFactors,
    EnergyBaseline,
    co2e_kg,
    demand_profile,
    energy_by_state,
    energy_kwh,
    kwh_per_unit,
    meter_delta,
    peak_demand,
)
from .events import TagMap, events_from_samples
from .live import LiveOee
from .oee import LOSSES, KpiInputError, OeeResult, OeeTracker, Stop, combine, oee_from_totals
from .shifts import shift_windows

__all__ = [
    "LOSSES",
    "EmissionFactors",
    "EnergyBaseline",
    "KpiInputError",
    "LiveOee",
    "OeeResult",
    "OeeTracker",
    "Stop",
    "TagMap",
    "co2e_kg",
    "combine",
    "demand_profile",
    "energy_by_state",
    "energy_kwh",
    "events_from_samples",
    "kwh_per_unit",
    "meter_delta",
    "oee_from_totals",
    "peak_demand",
    "shift_windows",
]
