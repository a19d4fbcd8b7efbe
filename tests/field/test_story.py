"""End to end on the simulated plant: field failures and complaints find the planted bad batch.

The simulator defines the cause (``run_scenario`` plants a setpoint excursion for one batch
and records it in its ground truth); the platform sees only the plant's samples, the units in
the field and the feedback texts.
"""

import pytest

from shopfloor.analytics.fleet.genealogy import BatchHistorian
from shopfloor.field.story import analyse
from shopfloor.sim.batches import run_scenario
from shopfloor.sim.field import ETA_GOOD_H, characteristic_life_h


@pytest.mark.parametrize("seed", [7, 21])
def test_story_finds_the_planted_batch_and_its_parameter(seed: int) -> None:
    historian = BatchHistorian()
    sc = run_scenario(seed=seed, on_samples=historian.learn)
    truth = sc.truth
    assert truth.kind == "process_excursion" and truth.injected
    planted = truth.detail
    report = analyse(sc, historian)

    # the bad batch from field failures, and its cause from the genealogy
    assert planted in report["flagged_by_field_life"]
    machine = truth.asset.rsplit("/", 1)[1]
    assert report["causes"][planted][0]["parameter"] == f"{machine}.{truth.tag}"
    # ... and independently from the complaints that name serial numbers
    assert planted in report["flagged_by_complaints"]
    row = next(s for s in report["summary"] if s["batch"] == planted)
    assert row["also_by_complaints"] and row["cause"] == f"{machine}.{truth.tag}"

    # no false positives: every flagged batch really is short-lived in the simulator's model,
    # and the others were explained by the plant's other mechanism (raw-material density)
    for b in report["flagged_by_field_life"]:
        assert characteristic_life_h(sc.sim.batches[b]) < 0.5 * ETA_GOOD_H, b
        if b != planted:
            assert report["causes"][b][0]["parameter"] == f"{machine}.density"

    # complaint spikes: each alarm lies inside a viral thread the generator made
    bursts: dict[int, list[int]] = {}
    for f in sc.feedback:
        if f.burst:
            bursts.setdefault(f.burst, []).append(f.ts_ns)
    assert report["spike_alarms"], "no spike found"
    for a in report["spike_alarms"]:
        assert any(min(v) <= a["ts_ns"] <= max(v) for v in bursts.values()), a

    # fleet model and forecast are there and sane
    assert report["life_model"]["b10_lower"] < report["life_model"]["b10"] < report["life_model"]["b10_upper"]
    fc = report["forecast"]
    assert len(fc["expected"]) == 6 and all(
        lo <= e <= hi for lo, e, hi in zip(fc["lower"], fc["expected"], fc["upper"], strict=True)
    )
