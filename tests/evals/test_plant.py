"""``shopfloor eval plant``: the analytics role's anomaly alarms against the simulator's ground truth."""

from shopfloor.evals.plant import _ends_of_life, evaluate


def test_blade_ends_of_life_are_detected_ahead_of_time() -> None:
    out = evaluate(days=1.5)
    blades = out["blade"]
    assert blades["ends_of_life"] >= 3
    assert blades["model_detected"] >= blades["ends_of_life"] // 2
    leads = [r["model_lead_h"] for r in blades["each"] if r["model_lead_h"] is not None]
    assert all(lead > 0 for lead in leads)
    assert out["false_alarms"] <= out["alarms"]
    assert "seed" in out["protocol"]


def test_ends_of_life_come_from_the_ground_truth() -> None:
    from shopfloor.core.assets import Plant
    from shopfloor.sim import DEFAULT_PLANT, Simulation

    sim = Simulation(Plant.load(DEFAULT_PLANT), seed=3, start_ns=0)
    for _ in range(60 * 24):
        sim.step(60.0)
    lives = _ends_of_life(sim)
    blades = [x for x in lives if x[1] == "blade"]
    changes = [r for r in sim.ground_truth if r.kind == "blade_change"]
    assert len(blades) <= len(changes)  # every worn-out blade was changed
    assert all(fitted < end for _, _, fitted, end in lives)
