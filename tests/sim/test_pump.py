"""Pump physics: bearing defect frequencies, run-to-failure, injected faults."""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.sim import Simulation
from shopfloor.sim.vibration import bearing_frequencies, envelope_spectrum

PUMP = "riverside/papermaking/pm1/stock_pump"


@pytest.mark.parametrize(("kind", "freq"), [("bearing_outer", "bpfo"), ("bearing_inner", "bpfi")])
def test_defect_frequency_appears_in_envelope_spectrum(make_sim, kind: str, freq: str) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=4, only=PUMP, sensor_faults=False)
    pump = sim.machine(PUMP)
    pump.onset_s = pump.life_s  # no natural wear: only the injected defect
    pump.age_s = 0.0
    sim.inject_fault(PUMP, kind, severity=0.7)
    sim.step(1.0)
    fs, x = sim.waveform(PUMP)
    assert fs == 12_800.0 and len(x) == 4096
    expected = bearing_frequencies(pump.speed / 60.0, **pump.geometry)[freq]
    f, env = envelope_spectrum(x, fs)
    band = (f > 10) & (f < 400)
    near = band & (np.abs(f - expected) <= 2 * (f[1] - f[0]))
    assert env[near].max() > 8 * np.median(env[band])  # a clear line at the computed frequency
    if freq == "bpfo":  # an outer-race defect is not modulated: its line is the largest
        peak = f[band][np.argmax(env[band])]
        assert abs(peak - expected) <= 2 * (f[1] - f[0]), (peak, expected)


def test_bearing_geometry_formulas() -> None:
    f = bearing_frequencies(1480 / 60, n_balls=8, ball_d_mm=22.225, pitch_d_mm=80.0)
    assert f["bpfo"] + f["bpfi"] == pytest.approx(8 * 1480 / 60)
    assert f["ftf"] == pytest.approx(f["bpfo"] / 8)


def test_run_to_failure_raises_vibration_and_temperature(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=5, only=PUMP, sensor_faults=False, waveform_samples=1024)
    pump = sim.machine(PUMP)
    pump.faults.clear()
    pump.age_s = pump.onset_s - 3600.0
    hours_left = (pump.life_s - pump.age_s) / 3600.0
    rms, temp, bpf = [], [], []
    step_s = 1200.0
    for _ in range(int(hours_left * 3600 / step_s) - 1):
        vals = {s.tag: s.value for s in sim.step(step_s) if s.asset == PUMP}
        rms.append(vals["vib_rms"])
        temp.append(vals["bearing_temp"])
        bpf.append(max(vals["env_bpfo"], vals["env_bpfi"], vals["env_bsf"]))
    n = len(rms) // 5
    assert np.mean(rms[-n:]) > 3 * np.mean(rms[:n])
    assert np.mean(temp[-n:]) > np.mean(temp[:n]) + 10
    assert np.mean(bpf[-n:]) > 5 * np.mean(bpf[:n])
    sim.step(2 * step_s)  # past end of life: the pump trips
    assert not sim.state(PUMP)["running"]
    assert sim.ground_truth.select(PUMP, "bearing_failure")
    wear = sim.ground_truth.select(PUMP, "bearing_wear")[-1]
    assert wear.end_ns is not None and wear.severity == 1.0


def test_cavitation_and_imbalance(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=6, only=PUMP, sensor_faults=False)
    sim.machine(PUMP).faults.clear()
    base = {s.tag: s.value for s in sim.step(1.0) if s.asset == PUMP}
    sim.inject_fault(PUMP, "cavitation", severity=1.0, duration_s=5)
    sim.inject_fault(PUMP, "imbalance", severity=1.0, duration_s=5)
    sick = {s.tag: s.value for s in sim.step(1.0) if s.asset == PUMP}
    assert sick["suction_pressure"] < base["suction_pressure"] - 0.4
    assert sick["flow"] < base["flow"]
    assert sick["vib_1x"] > 3 * base["vib_1x"]
    sim.step(10.0)
    recs = [r for r in sim.ground_truth.select(PUMP) if r.injected]
    assert {r.kind for r in recs} == {"cavitation", "imbalance"}
    assert all(r.end_ns == r.start_ns + 5 * 1_000_000_000 for r in recs)


def test_speed_setpoint_follows_affinity_laws(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=7, only=PUMP, sensor_faults=False)
    sim.machine(PUMP).faults.clear()
    full = {s.tag: s.value for s in sim.step(30.0) if s.asset == PUMP}
    sim.write(PUMP, "speed_sp", 740.0)
    half = {s.tag: s.value for s in sim.step(60.0) if s.asset == PUMP}
    assert half["flow"] == pytest.approx(full["flow"] / 2, rel=0.05)
    assert half["power"] == pytest.approx(full["power"] / 8, rel=0.1)
