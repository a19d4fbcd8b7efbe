"""Fielded products: failure rates depend on the process history of their batch."""

from __future__ import annotations

from shopfloor.sim import Simulation, field_products
from shopfloor.sim.machines.press import BatchRecord

DAY = 86_400 * 1_000_000_000


def test_bad_batches_fail_more() -> None:
    good = BatchRecord("GOOD-1", "p", 0, DAY, 720.0, n=1000, out_of_spec=5)
    bad = BatchRecord("BAD-1", "p", 0, DAY, 790.0, n=1000, out_of_spec=600)
    items = field_products([good, bad], now_ns=60 * DAY, units_per_batch=500, seed=1)
    rate = {b: sum(p.failed for p in items if p.batch == b) / 500 for b in ("GOOD-1", "BAD-1")}
    assert rate["BAD-1"] > 3 * rate["GOOD-1"]
    for p in items:
        assert p.serial.startswith(p.batch)
        if p.failed:
            assert p.failure_ns is not None and p.ship_ns < p.failure_ns <= 60 * DAY and p.failure_mode
        else:
            assert p.failure_ns is None
    assert items == field_products([good, bad], now_ns=60 * DAY, units_per_batch=500, seed=1)


def test_products_from_simulated_batches(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(
        seed=18, only="riverside/converting", sensor_faults=False, waveform_samples=1024
    )
    for _ in range(12 * 6):
        sim.step(600.0)
    items = field_products(sim.batches.values(), now_ns=sim.now_ns + 30 * DAY, units_per_batch=10)
    finished = [b for b in sim.batches.values() if b.end_ns is not None]
    assert finished and len(items) == 10 * len(finished)
    assert {p.batch for p in items} == {b.batch for b in finished}
