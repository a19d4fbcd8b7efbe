"""C-MAPSS suite: a slice of FD001, and a synthetic six-condition subset (FD002's shape)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopfloor.core.errors import ConfigError
from shopfloor.evals import cmapss, run_suite

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "cmapss"
FAST = {"iterations": 60, "learning_rate": 0.1, "folds": 2}


def _rows(path: Path, units: int) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln.strip() and int(ln.split()[0]) <= units]


def test_fd001_slice(tmp_path):
    if not (SHARED / "train_FD001.txt").exists():
        pytest.skip(f"C-MAPSS FD001 not found at {SHARED}")
    (tmp_path / "train_FD001.txt").write_text("\n".join(_rows(SHARED / "train_FD001.txt", 30)))
    (tmp_path / "test_FD001.txt").write_text("\n".join(_rows(SHARED / "test_FD001.txt", 20)))
    (tmp_path / "RUL_FD001.txt").write_text("\n".join((SHARED / "RUL_FD001.txt").read_text().split()[:20]))
    res = cmapss.run(tmp_path, **FAST)
    r = res["subsets"]["FD001"]
    assert r["test_units"] == 20 and r["train_units"] == 30 and r["operating_conditions"] == 1
    assert r["rmse"] < 30
    assert 0 <= r["interval"]["coverage"] <= 1 and r["train_cpu_s"] >= 0


def _engine(rng, life, centres, offsets):
    c = rng.integers(0, len(centres), life)
    wear = np.exp(3 * np.arange(life) / life) / 20
    sensors = 500 + offsets[c] + wear[:, None] * np.linspace(-2, 2, 21) + rng.normal(0, 0.05, (life, 21))
    sensors[:, 0] = 518.67  # a constant sensor, as in the real files
    settings = centres[c] + rng.normal(0, 0.002, (life, 3))
    return np.column_stack([np.arange(1, life + 1), settings, sensors])


def _write(path: Path, engines: list[np.ndarray]) -> None:
    lines = [
        " ".join([str(u + 1), str(int(row[0])), *(f"{v:.4f}" for v in row[1:])]) + "  "
        for u, e in enumerate(engines)
        for row in e
    ]
    path.write_text("\n".join(lines) + "\n")


def test_synthetic_multi_condition_subset(tmp_path):
    """Six operating conditions (FD002/FD004 style) are found and normalised per condition."""
    rng = np.random.default_rng(0)
    centres = np.array(
        [[0, 0, 100], [10, 0.25, 100], [20, 0.7, 100], [25, 0.62, 60], [35, 0.84, 100], [42, 0.84, 100]],
        dtype=float,
    )
    offsets = rng.normal(0, 20, (6, 21))
    train = [_engine(rng, int(rng.integers(140, 220)), centres, offsets) for _ in range(30)]
    full = [_engine(rng, int(rng.integers(140, 220)), centres, offsets) for _ in range(15)]
    cut = [int(rng.integers(40, len(e) - 5)) for e in full]
    _write(tmp_path / "train_FD002.txt", train)
    _write(tmp_path / "test_FD002.txt", [e[:k] for e, k in zip(full, cut, strict=True)])
    (tmp_path / "RUL_FD002.txt").write_text(
        "\n".join(str(len(e) - k) for e, k in zip(full, cut, strict=True))
    )
    res = cmapss.run(tmp_path, **FAST)
    r = res["subsets"]["FD002"]
    assert r["operating_conditions"] == 6
    assert r["test_units"] == 15
    assert r["rmse"] < 25


def test_layout_errors(tmp_path):
    with pytest.raises(ConfigError, match="no C-MAPSS subsets"):
        run_suite("cmapss", tmp_path)
    (tmp_path / "train_FD009.txt").write_text("1 1 0 0 100 1 2 3\n")
    with pytest.raises(ConfigError, match="test_FD009"):
        run_suite("cmapss", tmp_path)


def test_train_rul():
    assert cmapss.train_rul(np.array([1, 1, 1, 2, 2])).tolist() == [2, 1, 0, 1, 0]
