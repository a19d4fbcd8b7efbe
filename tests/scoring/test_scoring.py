"""Streaming scoring: rows from samples, learning, scores and health as derived tags, the model
registry, restart, retrain, and the role on a real bus."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from shopfloor.bus.memory import MemoryBus
from shopfloor.core.assets import Plant
from shopfloor.core.errors import ShopfloorError
from shopfloor.core.sample import Quality, Sample
from shopfloor.scoring.registry import ModelNotFound, ModelRegistry
from shopfloor.scoring.role import DERIVED, StreamingScorer, health_of

PUMP = "site/area/line/pump"
T0 = 1_700_000_000_000_000_000
S = 1_000_000_000


def plant() -> Plant:
    return Plant.from_dict(
        {
            "plant": {"enterprise": "acme"},
            "asset": [
                {
                    "path": PUMP,
                    "tag": [
                        {"name": "flow", "unit": "m3/h"},
                        {"name": "pressure", "unit": "bar"},
                        {"name": "vib", "unit": "mm/s"},
                        {"name": "speed_sp", "unit": "rpm", "writable": True},
                        {"name": "running", "type": "bool"},
                    ],
                },
                {"path": "site/area/line/lamp", "tag": [{"name": "on", "type": "bool"}]},
            ],
        }
    )


def rows(n: int, start: int, rng: np.random.Generator, shift: float = 0.0) -> list[Sample]:
    out = []
    for i in range(start, start + n):
        base = rng.normal(size=3)
        flow = 100 + 5 * base[0]
        pressure = 4 + 0.1 * base[0] + 0.05 * base[1]  # correlated with flow
        vib = 2 + 0.2 * base[2] + shift
        ts = T0 + i * S
        out += [
            Sample(PUMP, "flow", ts, float(flow)),
            Sample(PUMP, "pressure", ts, float(pressure)),
            Sample(PUMP, "vib", ts, float(vib)),
            Sample(PUMP, "speed_sp", ts, 1480.0),
            Sample(PUMP, "running", ts, True),
        ]
    return out


def test_only_assets_with_numeric_sensors_are_scored_and_get_derived_tags() -> None:
    p = plant()
    scorer = StreamingScorer(p, MemoryBus(), ModelRegistry(Path("/nonexistent")), train_rows=50)
    assert list(scorer.assets) == [PUMP]
    assert scorer.assets[PUMP].features == ["flow", "pressure", "vib"]  # not setpoints, not bools
    for name in DERIVED:
        assert p.get_tag(PUMP, name) is not None
    assert p.get_tag("site/area/line/lamp", "health") is None


def test_learns_then_scores_and_names_the_sensor_behind_a_fault(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    registry = ModelRegistry(tmp_path)
    scorer = StreamingScorer(plant(), MemoryBus(), registry, train_rows=200)
    assert scorer.process(rows(201, 0, rng)) == []  # learning: nothing derived yet
    assert scorer.status(PUMP)["state"] == "scoring"
    normal = scorer.process(rows(200, 201, rng))
    scores = [s.value for s in normal if s.tag == "anomaly_score"]
    assert len(scores) == 200 and np.quantile(scores, 0.95) < 1.5
    faulty = scorer.process(rows(100, 401, rng, shift=2.0))  # vibration up by 10 sigma
    scores = [s.value for s in faulty if s.tag == "anomaly_score"]
    health = [s.value for s in faulty if s.tag == "health"]
    assert min(scores[-50:]) > 3.0 and max(health[-50:]) < 40
    top = [s.value for s in faulty if s.tag == "anomaly_top"]
    assert top and top[-1].startswith("vib ")
    assert all(s.ts >= T0 + 400 * S for s in faulty)  # the row at 400 completes when 401 arrives


def test_bad_quality_and_non_numbers_are_not_fed(tmp_path: Path) -> None:
    scorer = StreamingScorer(plant(), MemoryBus(), ModelRegistry(tmp_path), train_rows=20)
    bad = [
        Sample(PUMP, t, T0 + i * S, 1.0, Quality.BAD) for i in range(30) for t in ("flow", "pressure", "vib")
    ]
    scorer.process(bad)
    assert scorer.status(PUMP)["learned_rows"] == 0  # no good value of any sensor yet


async def test_model_is_registered_and_a_restart_scores_at_once(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    registry = ModelRegistry(tmp_path)
    first = StreamingScorer(plant(), MemoryBus(), registry, train_rows=100)
    first.process(rows(101, 0, rng))
    await first._save_new_models()
    card = registry.card(PUMP, "mewma")
    assert card["version"] == 1 and card["features"] == ["flow", "pressure", "vib"]
    assert card["window"]["from_ns"] == T0 and card["window"]["to_ns"] == T0 + 99 * S
    assert card["metrics"]["train_rows"] == 100
    again = StreamingScorer(plant(), MemoryBus(), registry, train_rows=100)
    await again.start()
    try:
        assert again.status(PUMP)["state"] == "scoring" and again.status(PUMP)["model_version"] == 1
        assert again.process(rows(3, 200, rng))  # scores from the first complete row
        again.retrain(PUMP)
        assert again.status(PUMP)["state"] == "learning"
        again.process(rows(102, 300, rng))
        await again._save_new_models()
        assert registry.versions(PUMP, "mewma") == [1, 2]
        assert [c["version"] for c in registry.cards()] == [2]
    finally:
        await again.stop()
    with pytest.raises(ModelNotFound):
        registry.card(PUMP, "mewma", version=7)
    with pytest.raises(ShopfloorError, match="not scored"):
        again.retrain("site/area/line/lamp")


async def test_role_publishes_derived_samples_on_the_bus(tmp_path: Path) -> None:
    bus = MemoryBus()
    scorer = StreamingScorer(plant(), bus, ModelRegistry(tmp_path), train_rows=50)
    watcher = bus.subscribe("samples", "watcher")
    await scorer.start()
    got: list[Sample] = []

    async def watch() -> None:
        async for batch in watcher:
            got.extend(s for s in batch if s.tag in DERIVED)
            if len(got) >= 20:
                return

    task = asyncio.create_task(watch())
    rng = np.random.default_rng(9)
    for k in range(0, 80, 10):
        await bus.publish("samples", rows(10, k, rng))
    await asyncio.wait_for(task, 10)
    await scorer.stop()
    assert {s.tag for s in got} >= {"anomaly_score", "health"}
    assert scorer.stats()["scoring"] == 1 and scorer.stats()["published"] >= 20


def test_health_index() -> None:
    assert health_of(0.0) == 100.0 and health_of(4.0) == 25.0 and health_of(float("nan")) == 0.0


def test_rul_is_calibrated_by_completed_lives(tmp_path: Path) -> None:
    scorer = StreamingScorer(plant(), MemoryBus(), ModelRegistry(tmp_path), train_rows=50)
    a = scorer.assets[PUMP]
    # a life in which every estimate said half the time that was really left
    end = T0 + 100 * 3600 * S
    a.row_ts = end
    a.rul_log = [(end - h * 3600 * S, h * 3600 / 2) for h in range(1, 80)]
    scorer.retrain(PUMP, renewed=True)
    errors = scorer.rul_errors[a.kind]
    assert len(errors) == 79 and np.allclose(errors, np.log(2.0))
    est = scorer._calibrated(a, T0, (3600.0, 1800.0, 7200.0))
    assert est is not None and est[0] == pytest.approx(7200.0) and est[1] <= est[0] <= est[2]
    scorer.retrain(PUMP)  # a retrain that is not a renewal teaches nothing
    assert len(scorer.rul_errors[a.kind]) == 79
