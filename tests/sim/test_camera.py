"""Vision station: per-item results with the true class, tied to the cutter's blade."""

from __future__ import annotations

from shopfloor.sim import Simulation

CUTTER = "riverside/converting/line1/cutter"
CAMERA = "riverside/converting/line1/vision"


def test_inspection_results_carry_truth(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=13, only=(CUTTER, CAMERA), sensor_faults=False, waveform_samples=1024)
    cutter = sim.machine(CUTTER)
    cutter.cuts = 0.97 * cutter.life
    for _ in range(10):
        sim.step(60.0)
    records = list(sim.machine(CAMERA).records)
    assert len(records) >= 500
    ragged = [r for r in records if r.true_class == "ragged_edge"]
    assert len(ragged) > 100  # the dull blade shows in the camera
    accuracy = sum(r.predicted == r.true_class for r in ragged) / len(ragged)
    assert 0.85 < accuracy < 1.0
    last = {s.tag: s.value for s in sim.step(1.0) if s.asset == CAMERA}
    assert last["result"] in ("pass", "fail") and isinstance(last["true_class"], str)
    assert last["inspected_count"] == sim.machine(CAMERA).item
