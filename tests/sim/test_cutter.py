"""Cutter physics: the blade dulls with every cut, a blade change resets it."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from shopfloor.sim import Simulation

CUTTER = "riverside/converting/line1/cutter"


def _hourly(sim: Simulation, tag: str, hours: int) -> list[float]:
    out = []
    for _ in range(hours):
        vals = [s.value for _ in range(60) for s in sim.step(60.0) if s.asset == CUTTER and s.tag == tag]
        out.append(float(np.mean(vals)))
    return out


def test_dulling_raises_mean_force_monotonically(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=2, only=CUTTER, sensor_faults=False, waveform_samples=1024)
    cutter = sim.machine(CUTTER)
    cutter.cuts = 0.0  # a fresh blade; 60 cuts/min for 10 h = 36 000 of its 50 000 cuts
    force = _hourly(sim, "cutting_force", 10)
    assert all(b > a for a, b in pairwise(force)), force
    assert force[-1] > 1.3 * force[0]
    quality = _hourly(sim, "edge_quality", 1)
    assert quality[0] < 95.0


def test_blade_change_resets_and_dull_blade_makes_rejects(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=3, only=CUTTER, sensor_faults=False)
    cutter = sim.machine(CUTTER)
    cutter.cuts = 0.97 * cutter.life  # nearly dull
    before = sim.step(60.0)
    rejects0 = next(s.value for s in before if s.asset == CUTTER and s.tag == "reject_count")
    sim.step(600.0)
    after = {s.tag: s.value for s in sim.step(60.0) if s.asset == CUTTER}
    assert after["reject_count"] - rejects0 > 100  # ragged edges from a dull blade
    dull_force = after["cutting_force"]
    sim.write(CUTTER, "blade_change", True)
    sim.step(60.0)
    assert sim.state(CUTTER)["wear"] < 0.01
    sim.step(900.0)  # the blade change takes 10 minutes
    fresh = {s.tag: s.value for s in sim.step(60.0) if s.asset == CUTTER}
    assert fresh["cutting_force"] < 0.8 * dull_force
    assert fresh["blade_cuts"] < 1000
    changes = sim.ground_truth.select(CUTTER, "blade_change")
    assert changes and not changes[-1].injected
    worn = [r for r in sim.ground_truth.select(CUTTER, "blade_wear") if r.end_ns is not None]
    assert worn and worn[-1].severity > 0.9
