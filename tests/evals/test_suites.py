"""Each suite end to end on a small slice of the shared data (linked, never copied)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopfloor.core.errors import ConfigError
from shopfloor.evals import SELF_DATA, SUITES, run_suite

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def _need(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{name} data not found at {path}")
    return path


def test_suites_listed():
    assert set(SUITES) >= {"skab", "nab", "tep", "cmapss", "cwru", "ai4i"}


def test_unknown_suite_and_bad_layout(tmp_path):
    with pytest.raises(ConfigError, match="unknown eval suite"):
        run_suite("nope", tmp_path)
    for name in SUITES:
        if name in SELF_DATA:  # they generate their own data and ignore --data
            continue
        with pytest.raises(ConfigError):
            run_suite(name, tmp_path)


def test_skab_slice(tmp_path):
    src = _need("skab")
    (tmp_path / "valve1").mkdir()
    for f in ("0.csv", "1.csv"):
        (tmp_path / "valve1" / f).symlink_to(src / "valve1" / f)
    seen = []
    out = run_suite("skab", tmp_path, progress=lambda what, frac: seen.append(frac))
    assert out["files"] == 2 and seen[-1] == 1.0
    assert 0.0 <= out["outlier"]["f1"] <= 1.0
    assert out["changepoint"]["cps"] > 0
    json.dumps(out)


def test_nab_slice(tmp_path):
    src = _need("nab")
    for rel in (
        "artificialWithAnomaly/art_daily_jumpsup.csv",
        "artificialNoAnomaly/art_daily_small_noise.csv",
    ):
        (tmp_path / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / rel).symlink_to(src / "data" / rel)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "combined_windows.json").symlink_to(src / "labels" / "combined_windows.json")
    out = run_suite("nab", tmp_path)
    assert out["files"] == 2 and out["windows"] == 1
    for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
        assert -100.0 <= out[profile] <= 100.0
    json.dumps(out)


def test_tep_slice(tmp_path):
    src = _need("tep")
    for f in ("d00.dat", "d01.dat", "d03.dat", "d06.dat"):
        (tmp_path / f).symlink_to(src / f)
    out = run_suite("tep", tmp_path)
    assert set(out["fdr"]) == {"01", "03", "06"}
    assert out["fdr"]["01"] > 0.9 and out["fdr"]["06"] > 0.9
    assert out["far"] <= 0.05


def test_tep_test_runs_layout(tmp_path):
    """``--test-data`` with *_te runs: FAR on rows 1-160, FDR on the rest."""
    src = _need("tep")
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "d00.dat").symlink_to(src / "d00.dat")
    test = tmp_path / "test"
    test.mkdir()
    # a synthetic *_te run: 160 normal rows (from d00) then 320 faulty rows (from d06)
    import numpy as np

    from shopfloor.evals.tep import read_dat

    run = np.vstack([read_dat(src / "d00.dat")[-160:], read_dat(src / "d06.dat")[:320]])
    np.savetxt(test / "d06_te.dat", run)
    out = run_suite("tep", tmp_path / "train", test_data=test)
    assert out["fdr"]["06"] > 0.9
    assert out["far"] <= 0.2
