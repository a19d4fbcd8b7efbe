"""Calender press: density and settings set the thickness; batches are recorded."""

from __future__ import annotations

import pytest

from shopfloor.sim import Simulation
from shopfloor.sim.machines.press import P_REF, RHO_REF, TEMP_REF, V_REF, thickness_um

PRESS = "riverside/converting/line1/calender"


def test_thickness_model() -> None:
    assert thickness_um(RHO_REF, P_REF, V_REF, TEMP_REF) == pytest.approx(100.0)
    assert thickness_um(RHO_REF * 1.1, P_REF, V_REF, TEMP_REF) == pytest.approx(100.0 * 1.1**-0.8)
    assert thickness_um(RHO_REF, 2 * P_REF, V_REF, TEMP_REF) == pytest.approx(100.0 * 2**-0.3)
    assert thickness_um(RHO_REF, P_REF, V_REF, TEMP_REF + 10) < 100.0


def test_density_changes_thickness_as_modelled(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=8, only=PRESS, sensor_faults=False)
    press = sim.machine(PRESS)
    sim.step(60.0)
    press.wander = 0.0
    for density in (680.0, 720.0, 770.0):
        press.batch.density = density
        vals = {s.tag: s.value for s in sim.step(1.0) if s.asset == PRESS}
        model = thickness_um(density + press.wander, press.pressure, press.speed, press.temp)
        assert vals["thickness"] == pytest.approx(model, abs=2.0)  # gauge noise and quantization
        assert vals["density"] == pytest.approx(density, abs=15.0)
    assert press.thickness < thickness_um(680.0, press.pressure, press.speed, press.temp)


def test_pressure_setpoint_closes_the_loop(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=9, only=PRESS, sensor_faults=False)
    sim.step(60.0)
    before = sim.state(PRESS)["thickness"]
    sim.write(PRESS, "nip_pressure_sp", 250.0)
    sim.step(60.0)  # 12 pressure time constants
    after = sim.state(PRESS)["thickness"]
    assert after == pytest.approx(before * (250.0 / 150.0) ** -0.3, rel=0.03)


def test_batches_change_and_are_recorded(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=10, only=PRESS, sensor_faults=False)
    ids = set()
    for _ in range(24 * 6):
        ids |= {s.value for s in sim.step(600.0) if s.asset == PRESS and s.tag == "batch_id"}
    assert len(ids) >= 4  # 4-hour batches over a day
    assert ids <= set(sim.batches)
    done = [b for b in sim.batches.values() if b.end_ns is not None and b.asset == PRESS]
    assert len({round(b.density) for b in done}) == len(done)  # density varies by batch
    assert all(b.n > 0 and 0 <= b.out_of_spec_fraction <= 1 for b in done)
