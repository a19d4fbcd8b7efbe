"""Genealogy built from the simulated plant's samples agrees with the simulator's own batch records."""

import pytest

from shopfloor.analytics.fleet.genealogy import BatchHistorian, tag_kind
from shopfloor.core.assets import Plant
from shopfloor.sim.simulation import DEFAULT_PLANT, NS, Simulation


def test_profiles_from_samples_match_the_simulated_batches() -> None:
    sim = Simulation(
        Plant.load(DEFAULT_PLANT),
        seed=2,
        start_ns=1_767_225_600 * NS,
        waveform_samples=256,
        vibration_period_s=3600.0,
    )
    h = BatchHistorian()
    for _ in range(int(86_400 / 120)):
        h.learn(sim.step(120.0))
    g = h.genealogy()
    finished = [b for b in sim.batches.values() if b.end_ns is not None]
    assert len(finished) >= 6
    for rec in finished:
        p = g.profiles[rec.batch]
        assert p.asset == rec.asset and p.line == rec.asset.rsplit("/", 1)[0]
        assert p.params["calender.thickness"] == pytest.approx(rec.thickness_mean, abs=0.5)
        assert p.params["calender.density"] == pytest.approx(rec.density, abs=8.0)  # gauge + wander
        assert f"{p.line}/cutter" in p.machines
        assert p.kinds["calender.nip_pressure_sp"] == "setting"
        assert p.kinds["calender.density"] == "material"
    line1 = next(b for b in finished if b.batch.startswith("L1"))
    g.add_units(line1.batch, [f"{line1.batch}-00001"])
    assert g.trace(f"{line1.batch}-00001")["batch"] == line1.batch
    assert "vision.confidence" in g.profiles[line1.batch].params  # the line's camera too
    with pytest.raises(KeyError, match="no known batch"):
        g.trace("XX-1")
    assert tag_kind("edge_quality") == "quality"
