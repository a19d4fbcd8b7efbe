"""Packaging line: states with reason codes, counts consistent with states, energy."""

from __future__ import annotations

from shopfloor.sim import Simulation
from shopfloor.sim.machines.packaging import REASONS

LINE = "riverside/packaging/pack1"


def test_counts_consistent_with_states(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=11, only=LINE, sensor_faults=False)
    prev: dict[str, dict] = {}
    seen_states: set[str] = set()
    for _ in range(3 * 3600 // 5):
        by_asset: dict[str, dict] = {}
        for s in sim.step(5.0):
            if s.asset.startswith(LINE):
                by_asset.setdefault(s.asset, {})[s.tag] = s.value
        for asset, v in by_asset.items():
            assert v["total_count"] == v["good_count"] + v["reject_count"]
            assert v["reason_code"] in REASONS
            assert (v["state"] == "running") == (v["reason_code"] == "none")
            seen_states.add(v["state"])
            p = prev.get(asset)
            if p is not None:
                made = v["total_count"] - p["total_count"]
                assert made >= 0 and v["energy"] >= p["energy"]
                if v["state"] != "running":
                    assert made == 0, (asset, v["state"])
                else:  # never faster than the ideal cycle time allows
                    assert made <= 5.0 / v["ideal_cycle_time"] + 1
            prev[asset] = v
    assert {"running", "down"} <= seen_states
    downs = sim.ground_truth.select(kind="downtime")
    assert downs and all(r.detail in REASONS for r in downs)


def test_starved_when_upstream_down(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=12, only=LINE, sensor_faults=False)
    sim.step(1.0)
    rec = sim.inject_fault(f"{LINE}/wrapper", "jam", severity=1.0, duration_s=120)
    vals = {(s.asset, s.tag): s.value for s in sim.step(1.0)}
    assert vals[(f"{LINE}/wrapper", "state")] == "down"
    assert vals[(f"{LINE}/wrapper", "reason_code")] == "jam"
    assert vals[(f"{LINE}/case_packer", "state")] == "idle"
    assert vals[(f"{LINE}/case_packer", "reason_code")] == "starved"
    assert rec.injected and rec.end_ns == rec.start_ns + 120 * 1_000_000_000
