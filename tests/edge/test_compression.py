"""Compression: the reconstructed series stays within the error bound; the reduction is reported."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.edge.compression import Deadband, SwingingDoor, make, reconstruct

series = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=300)


def _run(method: str, values: list[float], deviation: float, step: int = 100_000_000) -> list:
    comp = make(method, deviation)  # type: ignore[arg-type]
    kept = [p for i, v in enumerate(values) for p in comp.offer(i * step, v)]
    return kept + comp.flush()


@settings(max_examples=200, deadline=None)
@given(values=series, deviation=st.floats(0.01, 50))
def test_swinging_door_reconstruction_within_bound(values: list[float], deviation: float) -> None:
    kept = _run("swinging_door", values, deviation)
    assert kept[0] == (0, values[0]) and kept[-1][0] == (len(values) - 1) * 100_000_000
    for i, v in enumerate(values):
        assert abs(reconstruct(kept, i * 100_000_000, "swinging_door") - v) <= deviation * (1 + 1e-9) + 1e-9


@settings(max_examples=200, deadline=None)
@given(values=series, deviation=st.floats(0.01, 50))
def test_deadband_reconstruction_within_bound(values: list[float], deviation: float) -> None:
    kept = _run("deadband", values, deviation)
    for i, v in enumerate(values[:-1]):
        assert abs(reconstruct(kept, i * 100_000_000, "deadband") - v) <= deviation
    assert kept[-1] == ((len(values) - 1) * 100_000_000, values[-1])  # the end is never lost


def test_reduction_ratio_on_a_noisy_process_signal() -> None:
    rng = random.Random(7)
    values = [50 + 10 * math.sin(i / 50) + rng.gauss(0, 0.05) for i in range(5_000)]
    sdt = _run("swinging_door", values, 0.2)
    db = _run("deadband", values, 0.2)
    ratio_sdt, ratio_db = len(values) / len(sdt), len(values) / len(db)
    assert ratio_sdt > 10 and ratio_db > 2  # 18x and 2.3x here
    assert ratio_sdt > ratio_db  # SDT keeps slopes, deadband only levels
    assert len(_run("none", values, 0.2)) == len(values)


def test_text_and_heartbeat() -> None:
    db = Deadband(1.0, max_interval_s=1.0)
    kept = [p for t, v in enumerate(["run", "run", "stop", "stop"]) for p in db.offer(t * 10**9, v)]
    assert [v for _, v in kept] == ["run", "run", "stop", "stop"]  # heartbeat every second
    sd = SwingingDoor(1.0, max_interval_s=2.0)
    kept = [p for t in range(6) for p in sd.offer(t * 10**9, 5.0)] + sd.flush()
    assert [t // 10**9 for t, _ in kept] == [0, 2, 4, 5]
