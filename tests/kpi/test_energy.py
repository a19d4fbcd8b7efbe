"""Energy KPIs: kWh per unit, 15-minute peak demand, idle-energy waste, CO2e, anomalies."""

from __future__ import annotations

import pytest

from shopfloor.analytics.kpi import (
    EmissionFactors,
    EnergyBaseline,
    KpiInputError,
    OeeTracker,
    co2e_kg,
    demand_profile,
    energy_by_state,
    energy_kwh,
    kwh_per_unit,
    meter_delta,
    peak_demand,
)
from shopfloor.analytics.kpi.energy import co2e_profile_kg

NS = 1_000_000_000
MIN = 60 * NS


def test_peak_demand_is_the_highest_15_minute_average() -> None:
    # 100 kW for 5 min inside an otherwise 40 kW quarter hour: demand 60 kW, not the 100 kW spike
    power = [(0, 40.0), (20 * MIN, 100.0), (25 * MIN, 40.0), (60 * MIN, 40.0)]
    profile = demand_profile(power, 900)
    assert [round(kw, 6) for _, kw in profile] == [40.0, 60.0, 40.0, 40.0]
    peak = peak_demand(power, 900)
    assert peak["kw"] == pytest.approx(60.0) and peak["start"] == 15 * MIN
    assert energy_kwh(power) == pytest.approx(40 + 60 * 5 / 60)


def test_kwh_per_unit_and_meter_reset() -> None:
    assert meter_delta([(0, 1000.0), (MIN, 1010.0), (2 * MIN, 4.0)]) == pytest.approx(14.0)
    assert kwh_per_unit(14.0, 7) == 2.0
    assert kwh_per_unit(14.0, 0) is None


def test_idle_energy_waste_by_state() -> None:
    t = OeeTracker(ideal_cycle_s=1.0)
    t.learn_one({"ts": 0, "state": "running"})
    t.learn_one({"ts": 30 * MIN, "state": "idle", "reason": "starved"})
    t.learn_one({"ts": 45 * MIN, "state": "down", "reason": "jam"})
    t.learn_one({"ts": 60 * MIN, "state": "running"})
    power = [(0, 12.0), (30 * MIN, 2.0), (45 * MIN, 0.5), (60 * MIN, 12.0)]
    by_state = energy_by_state(power, t.stops(0, 90 * MIN), 90 * MIN)
    assert by_state["running"] == pytest.approx(12.0 * 1.0)
    assert by_state["idle"] == pytest.approx(2.0 * 0.25)
    assert by_state["down"] == pytest.approx(0.5 * 0.25)


def test_co2e_flat_and_hourly_factors() -> None:
    flat = EmissionFactors(grid_kg_per_kwh=0.4)
    assert co2e_kg(250.0, flat) == pytest.approx(100.0)
    hourly = EmissionFactors(grid_kg_per_kwh=0.4, by_hour={1: 0.1})
    profile = [(0, 100.0), (3600 * NS, 100.0)]  # 100 kW for one hour at 00:00 and one at 01:00
    assert co2e_profile_kg(profile, 3600, hourly) == pytest.approx(100 * 0.4 + 100 * 0.1)
    with pytest.raises(ValueError, match="grid_kg_per_kwh"):
        EmissionFactors(grid_kg_per_kwh=-1)


def test_energy_baseline_flags_only_the_outlier() -> None:
    b = EnergyBaseline(window=200, threshold=4.0, min_count=12)
    for i in range(96):
        b.learn_one({"context": "running", "kwh": 3.0 + 0.05 * ((i * 7) % 5)})
        b.learn_one({"context": "idle", "kwh": 0.5 + 0.01 * (i % 3)})
    assert not b.is_anomaly({"context": "running", "kwh": 3.1})
    assert b.is_anomaly({"context": "running", "kwh": 4.5})
    assert b.is_anomaly({"context": "idle", "kwh": 3.0})  # running-level draw while idle: waste
    assert b.score_one({"context": "never-seen", "kwh": 1.0}) is None


def test_bad_samples_are_refused_with_the_reason() -> None:
    with pytest.raises(KpiInputError, match="out of time order"):
        energy_kwh([(10, 1.0), (5, 1.0)])
    with pytest.raises(KpiInputError, match="not finite"):
        peak_demand([(0, float("nan")), (10, 1.0)])
