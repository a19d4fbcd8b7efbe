"""OEE, six big losses, Pareto, MTBF/MTTR against worked examples and the simulated plant."""

from __future__ import annotations

import pytest

from shopfloor.analytics.kpi import (
    LOSSES,
    KpiInputError,
    OeeTracker,
    combine,
    events_from_samples,
    oee_from_totals,
    shift_windows,
)

NS = 1_000_000_000
MIN = 60 * NS


def _vorne_shift() -> OeeTracker:
    """The worked example of Vorne Industries, "OEE Calculation: Definitions, Formulas, and
    Examples" (https://www.oee.com/calculating-oee/): an 8-hour shift (480 min) with two
    15-minute breaks and a 30-minute meal break, 47 minutes of downtime, an ideal run rate of
    60 parts per minute (ideal cycle 1 s), 19,271 parts made of which 423 rejected.
    Stated results: availability 88.81 %, performance 86.11 %, quality 97.80 %, OEE 74.79 %.
    """
    t = OeeTracker(ideal_cycle_s=1.0)
    timeline = [
        (0, "running", None),
        (120, "down", "break"),
        (135, "running", None),
        (240, "down", "break"),  # meal
        (270, "running", None),
        (300, "down", "electrical_fault"),
        (347, "running", None),
        (420, "down", "break"),
        (435, "running", None),
    ]
    t.learn_one({"ts": 0, "good": 0, "reject": 0})
    for minute, state, reason in timeline:
        t.learn_one({"ts": minute * MIN, "state": state, "reason": reason})
    t.learn_one({"ts": 480 * MIN, "good": 19_271 - 423, "reject": 423})
    return t


def test_vorne_worked_example_stream() -> None:
    r = _vorne_shift().result(0, 480 * MIN)
    assert r.planned_s == 420 * 60 and r.run_s == 373 * 60
    assert r.good == 18_848 and r.total == 19_271
    assert r.availability == pytest.approx(0.8881, abs=5e-5)
    assert r.performance == pytest.approx(0.8611, abs=5e-5)
    assert r.quality == pytest.approx(0.9780, abs=5e-5)
    assert r.oee == pytest.approx(0.7479, abs=5e-5)
    # the simple form: good count x ideal cycle time / planned production time
    assert r.good_ideal_s / r.planned_s == pytest.approx(r.oee)
    assert oee_from_totals(420 * 60, 373 * 60, 19_271, 18_848, 1.0)["oee"] == pytest.approx(r.oee)


def test_textbook_totals_second_example() -> None:
    # Run 420 of 480 min, ideal 1 min, 400 made, 380 good: 87.5 % x 95.2 % x 95 % = 79.1 %
    r = oee_from_totals(480, 420, 400, 380, 1.0)
    assert (round(r["availability"], 3), round(r["performance"], 3), round(r["quality"], 3)) == (
        0.875,
        0.952,
        0.95,
    )
    # the source multiplies the rounded factors (0.875 x 0.952 x 0.95 = 0.791); unrounded it is 0.7917
    assert r["oee"] == pytest.approx(0.875 * (400 / 420) * 0.95) and abs(r["oee"] - 0.791) < 1e-3


def test_six_big_losses_add_up_to_planned_time() -> None:
    t = OeeTracker(ideal_cycle_s=2.0, minor_stop_s=120, startup_s=60)
    t.learn_one({"ts": 0, "state": "running", "good": 0, "reject": 0})
    t.learn_one({"ts": 30 * NS, "good": 10, "reject": 1})
    t.learn_one({"ts": 100 * NS, "state": "down", "reason": "electrical_fault"})  # 400 s breakdown
    t.learn_one({"ts": 100 * NS, "good": 40, "reject": 2})
    t.learn_one({"ts": 500 * NS, "state": "running"})
    t.learn_one({"ts": 520 * NS, "good": 45, "reject": 5})  # 3 rejects within start-up
    t.learn_one({"ts": 900 * NS, "state": "down", "reason": "changeover"})  # 300 s setup
    t.learn_one({"ts": 900 * NS, "good": 200, "reject": 6})
    t.learn_one({"ts": 1200 * NS, "state": "idle", "reason": "starved"})  # 50 s small stop
    t.learn_one({"ts": 1250 * NS, "state": "down", "reason": "material_shortage"})  # 60 s < 120 s: minor
    t.learn_one({"ts": 1310 * NS, "state": "running"})
    t.learn_one({"ts": 1400 * NS, "good": 230, "reject": 6})
    r = t.result(0, 1400 * NS)
    assert r.losses["breakdowns"] == 400
    assert r.losses["setup_adjustments"] == 300
    assert r.losses["small_stops"] == 110
    assert r.losses["startup_rejects"] == 3 * 2.0
    assert r.losses["production_rejects"] == 3 * 2.0
    assert r.losses["slow_cycles"] == pytest.approx(r.run_s - 236 * 2.0)
    assert sum(r.losses[k] for k in LOSSES) + r.good_ideal_s == pytest.approx(r.planned_s)
    pareto = r.pareto()
    assert [p["reason"] for p in pareto] == ["electrical_fault", "changeover", "material_shortage", "starved"]
    assert pareto[-1]["cumulative"] == pytest.approx(1.0)
    assert r.failures == 1 and r.mttr_s == 400 and r.mtbf_s == r.run_s


def test_mtbf_mttr_over_several_failures() -> None:
    t = OeeTracker(ideal_cycle_s=1.0)
    for start, stop in [(0, 1000), (1100, 3000), (3300, 5000)]:
        t.learn_one({"ts": start * NS, "state": "running"})
        t.learn_one({"ts": stop * NS, "state": "down", "reason": "breakdown"})
    t.learn_one({"ts": 5500 * NS, "state": "running"})
    r = t.result(0, 6000 * NS)
    assert r.failures == 3
    assert r.mttr_s == pytest.approx((100 + 300 + 500) / 3)
    assert r.mtbf_s == pytest.approx((1000 + 1900 + 1700 + 500) / 3)


def test_streaming_equals_history_and_shifts_add_up() -> None:
    events = []
    state_cycle = [("running", None), ("down", "jam"), ("running", None), ("idle", "starved")]
    good = reject = 0
    for i in range(200):
        ts = i * 37 * NS
        state, reason = state_cycle[i % 4]
        good += 30 if state == "running" else 0
        reject += 1 if i % 7 == 0 else 0
        events.append({"ts": ts, "state": state, "reason": reason, "good": good, "reject": reject})
    end = 200 * 37 * NS
    batch = OeeTracker(ideal_cycle_s=1.0).fit(reversed(events))  # fit sorts
    stream = OeeTracker(ideal_cycle_s=1.0)
    for ev in events:
        stream.learn_one(ev)
    assert stream.result(0, end).as_dict() == batch.result(0, end).as_dict()
    shifts = shift_windows(0, end, [("A", "00:00", "01:00"), ("B", "01:00", "00:00")])
    assert [s[0] for s in shifts] == ["A", "B"]
    parts = combine(batch.result(s, e) for _, s, e in shifts)
    whole = batch.result(0, end)
    assert parts.total == whole.total and parts.run_s == pytest.approx(whole.run_s)
    assert parts.oee == pytest.approx(whole.oee)


def test_counter_reset_counts_new_value() -> None:
    t = OeeTracker(ideal_cycle_s=1.0)
    t.learn_one({"ts": 0, "state": "running", "good": 100, "reject": 0})
    t.learn_one({"ts": 10 * NS, "good": 105, "reject": 0})
    t.learn_one({"ts": 20 * NS, "good": 3, "reject": 0})  # PLC restarted
    assert t.result(0, 20 * NS).good == 8


def test_bad_input_is_named_and_counted() -> None:
    t = OeeTracker(ideal_cycle_s=1.0)
    t.learn_one({"ts": 10, "state": "running"})
    with pytest.raises(KpiInputError, match="unknown machine state 'exploded'"):
        t.learn_one({"ts": 11, "state": "exploded"})
    with pytest.raises(KpiInputError, match="older than"):
        t.learn_one({"ts": 5, "state": "down"})
    with pytest.raises(KpiInputError, match="'ts'"):
        t.learn_one({"state": "down"})
    with pytest.raises(KpiInputError, match="empty window"):
        t.result(10, 10)
    assert t.rejected_events == 3
    assert t.state == ("running", "none")  # nothing else lost


def test_simulated_packaging_machine_matches_its_counters() -> None:
    from shopfloor.core.assets import Plant
    from shopfloor.sim.simulation import DEFAULT_PLANT, Simulation

    sim = Simulation(Plant.load(DEFAULT_PLANT), seed=3, start_ns=1_700_000_000 * NS, vibration_period_s=600)
    asset = "riverside/packaging/pack1/wrapper"
    samples = []
    running = []
    for _ in range(2 * 3600 // 5):
        tick = [s for s in sim.step(5.0) if s.asset == asset]
        samples.extend(tick)
        running.append(any(s.tag == "state" and s.value == "running" for s in tick))
    first, last = samples[0].ts, samples[-1].ts
    t = OeeTracker().fit(events_from_samples(samples))
    r = t.result(first, last)
    counts = {s.tag: s.value for s in samples if s.ts == last}
    start_counts = {s.tag: s.value for s in samples if s.ts == first}
    assert r.total == counts["total_count"] - start_counts["total_count"]
    assert r.reject == counts["reject_count"] - start_counts["reject_count"]
    assert 0 < r.availability <= 1 and 0.8 < r.performance <= 1.05 and 0.9 < r.quality <= 1
    # a state holds from its sample to the next: every tick but the last counts 5 s
    assert r.run_s == 5 * sum(running[:-1])
    assert r.pareto() and r.availability < 1  # two hours of the sim's wrapper hold some stops


def test_live_stream_equals_history_on_the_simulator_and_trim_keeps_recent_windows() -> None:
    from shopfloor.analytics.kpi import LiveOee
    from shopfloor.core.assets import Plant
    from shopfloor.sim.simulation import DEFAULT_PLANT, Simulation

    sim = Simulation(Plant.load(DEFAULT_PLANT), seed=5, start_ns=1_700_000_000 * NS, vibration_period_s=600)
    packers = [a for a in sim.machines if a.startswith("riverside/packaging/")]
    live = LiveOee({a: sim.machines[a].ideal for a in packers}, horizon_ns=3600 * NS)
    everything = []
    for _ in range(2 * 3600 // 5):
        tick = sim.step(5.0)
        live.learn_many(tick)  # what a bus subscriber does with each batch
        everything.extend(s for s in tick if s.asset in packers)
    end = sim.now_ns
    recent = end - 1800 * NS  # inside the one-hour horizon: trimming must not change it
    for asset in packers:
        batch = OeeTracker(sim.machines[asset].ideal).fit(
            events_from_samples([s for s in everything if s.asset == asset])
        )
        assert live.result(asset, recent, end).as_dict() == batch.result(recent, end).as_dict()
        assert live.trackers[asset].first_ts >= end - 3600 * NS - 5 * NS  # older history trimmed
    assert live.rejected == 0
    assert live.without_ideal == set()  # the cutters publish their ideal cycle time as a tag
    with pytest.raises(KeyError, match="no KPI samples"):
        live.result("riverside/nowhere", 0, end)
