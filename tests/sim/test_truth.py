"""Ground truth: injected faults and degradations are recorded and exportable."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from shopfloor.sim import Simulation

PUMP = "riverside/utilities/water/cooling_pump"


def test_export_csv_and_json(make_sim, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=14)
    sim.step(1.0)
    rec = sim.inject_fault(PUMP, "leak", severity=0.6, duration_s=30)
    stuck = sim.inject_fault(PUMP, "stuck", tag="bearing_temp", duration_s=20)
    for _ in range(40):
        sim.step(1.0)
    assert rec.end_ns == rec.start_ns + 30 * 1_000_000_000
    rows = json.loads(sim.ground_truth.to_json())
    assert {"asset", "kind", "start_ns", "end_ns", "severity", "tag", "start", "end"} <= set(rows[0])
    injected = [r for r in rows if r["injected"]]
    assert {(r["asset"], r["kind"], r["tag"]) for r in injected} == {
        (PUMP, "leak", ""),
        (PUMP, "sensor_stuck", "bearing_temp"),
    }
    path = tmp_path / "truth.csv"
    n = sim.ground_truth.to_csv(path)
    with path.open() as fh:
        table = list(csv.DictReader(fh))
    assert n == len(table) == len(rows)
    leak = next(r for r in table if r["kind"] == "leak")
    assert float(leak["severity"]) == 0.6 and leak["end"].endswith("Z")
    assert stuck.end_ns is not None


def test_stuck_sensor_repeats_value(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=15, sensor_faults=False)
    sim.step(1.0)
    sim.inject_fault(PUMP, "stuck", tag="flow", duration_s=10)
    sim.write(PUMP, "speed_sp", 900.0)  # the true flow falls
    flows = [s.value for _ in range(8) for s in sim.step(1.0) if s.asset == PUMP and s.tag == "flow"]
    assert len(set(flows)) == 1
    later = [s.value for _ in range(5) for s in sim.step(1.0) if s.asset == PUMP and s.tag == "flow"]
    assert later[-1] < flows[0] * 0.8


def test_dropout_and_spike(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=16, sensor_faults=False)
    base = {s.tag: s.value for s in sim.step(1.0) if s.asset == PUMP}
    sim.inject_fault(PUMP, "dropout", tag="motor_current", duration_s=3)
    sim.inject_fault(PUMP, "spike", tag="discharge_pressure")
    now = {s.tag: s.value for s in sim.step(1.0) if s.asset == PUMP}
    assert "motor_current" not in now
    assert abs(now["discharge_pressure"] - base["discharge_pressure"]) > 0.5
    for _ in range(3):
        sim.step(1.0)
    assert "motor_current" in {s.tag for s in sim.step(1.0) if s.asset == PUMP}


def test_random_sensor_faults_are_recorded(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=17, only=("riverside/converting/line2/calender", "riverside/packaging"))
    for _ in range(3 * 24 * 60):
        sim.step(60.0)
    kinds = {r.kind for r in sim.ground_truth}
    assert {"sensor_spike", "sensor_dropout"} <= kinds
    assert all(r.tag for r in sim.ground_truth if r.kind.startswith("sensor_"))


def test_unknown_fault_is_refused(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim()
    with pytest.raises(ValueError, match="no fault 'melt'"):
        sim.inject_fault(PUMP, "melt")
    with pytest.raises(ValueError, match="needs tag="):
        sim.inject_fault(PUMP, "stuck")
