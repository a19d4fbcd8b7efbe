"""Same seed, same plant; different seed, different plant."""

from __future__ import annotations

from shopfloor.sim import Simulation


def _run(sim: Simulation) -> list[tuple]:
    out = []
    for _ in range(30):
        out.extend((s.asset, s.tag, s.ts, s.value) for s in sim.step(60.0))
    return out


def test_same_seed_same_history(make_sim) -> None:  # type: ignore[no-untyped-def]
    a, b = make_sim(seed=42, waveform_samples=1024), make_sim(seed=42, waveform_samples=1024)
    assert _run(a) == _run(b)
    assert a.ground_truth.to_json() == b.ground_truth.to_json()


def test_different_seed_different_history(make_sim) -> None:  # type: ignore[no-untyped-def]
    a, b = make_sim(seed=1, waveform_samples=1024), make_sim(seed=2, waveform_samples=1024)
    assert _run(a) != _run(b)
