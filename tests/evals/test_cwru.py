"""CWRU suite: real 0 HP slice (within-load), synthetic records at two loads (cross-load paths)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopfloor.analytics.maintenance.features import SKF_6205
from shopfloor.core.errors import ConfigError
from shopfloor.evals import cwru, run_suite

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "cwru"
RPM = {0: 1797.0, 1: 1772.0}


def test_parse_name():
    r = cwru.parse_name(Path("12k_Drive_End_IR021_3_212.mat"))
    assert (r.label, r.load, r.rate, r.rpm) == ("IR021", 3, 12000.0, 1730.0)
    r = cwru.parse_name(Path("48k_Drive_End_B007_1_123.mat"))
    assert (r.label, r.load, r.rate) == ("B007", 1, 48000.0)
    assert cwru.parse_name(Path("normal_2_99.mat")).rate == 48000.0
    with pytest.raises(ConfigError, match="not a CWRU file name"):
        cwru.parse_name(Path("readme.mat"))


def test_real_slice_within_load(tmp_path):
    names = ("normal_0_97.mat", "12k_Drive_End_B021_0_222.mat", "12k_Drive_End_IR007_0_105.mat")
    if not all((SHARED / n).exists() for n in names):
        pytest.skip(f"CWRU files not found at {SHARED}")
    for n in names:
        (tmp_path / n).symlink_to(SHARED / n)
    res = run_suite("cwru", tmp_path)
    w = res["within_load"]["0"]
    assert res["loads"] == [0] and "cross_load" not in res
    assert w["classes"] == 3 and w["accuracy"] >= 0.95
    # 48 kHz normal record resampled to 12 kHz: about as many segments as a 12 kHz record of 20 s
    assert 30 < w["test_segments"] < 200


def _impacts(rate_hz: float, n: int, fs: float, rng: np.random.Generator, amp: float) -> np.ndarray:
    x = rng.normal(0, 0.05, n)
    t = np.arange(int(0.012 * fs)) / fs
    ring = amp * np.exp(-t * 900) * np.sin(2 * np.pi * 3300 * t)
    for k in np.arange(0, n / fs, 1 / rate_hz):
        i = int(k * fs)
        x[i : i + len(ring)] += ring[: n - i]
    return x


def _write_load(folder: Path, load: int, rng: np.random.Generator) -> None:
    from scipy.io import savemat

    fr = RPM[load] / 60
    no = 100 + 10 * load
    savemat(folder / f"normal_{load}_{no}.mat", {f"X{no}_DE_time": rng.normal(0, 0.05, (4 * 2048 * 12, 1))})
    for label, rate in (("OR007@6", SKF_6205.bpfo(fr)), ("IR007", SKF_6205.bpfi(fr))):
        no += 1
        x = _impacts(rate, 2048 * 12, 12000.0, rng, 0.6 + 0.1 * load)
        savemat(
            folder / f"12k_Drive_End_{label}_{load}_{no}.mat",
            {f"X{no}_FE_time": x[:, None] * 0.1, f"X{no}_DE_time": x[:, None], f"X{no}RPM": RPM[load]},
        )


def test_cross_load_paths(tmp_path):
    rng = np.random.default_rng(0)
    both, a, b = tmp_path / "both", tmp_path / "a", tmp_path / "b"
    for d in (both, a, b):
        d.mkdir()
    _write_load(both, 0, rng)
    _write_load(both, 1, rng)
    _write_load(a, 0, rng)
    _write_load(b, 1, rng)
    res = cwru.run(both)
    assert res["loads"] == [0, 1]
    assert res["cross_load"]["train_loads"] == [0]
    assert set(res["cross_load"]["per_load"]) == {"1"}
    assert res["cross_load"]["all"]["accuracy"] >= 0.9
    res = run_suite("cwru", a, b)
    assert res["cross_load"]["train_loads"] == [0] and res["cross_load"]["all"]["accuracy"] >= 0.9
    assert res["within_load"]["0"]["accuracy"] >= 0.9


def test_layout_errors(tmp_path):
    with pytest.raises(ConfigError, match="no CWRU"):
        run_suite("cwru", tmp_path)
    from scipy.io import savemat

    savemat(tmp_path / "12k_Drive_End_B007_0_1.mat", {"X001_FE_time": np.zeros((10, 1))})
    with pytest.raises(ConfigError, match="_DE_time"):
        run_suite("cwru", tmp_path)


def test_drive_end_key_of_the_file_number(tmp_path):
    """Some CWRU files carry a second record's keys; the one numbered like the file wins."""
    from scipy.io import savemat

    path = tmp_path / "normal_1_98.mat"
    savemat(path, {"X098_DE_time": np.ones((8, 1)), "X099_DE_time": np.zeros((8, 1)), "X098RPM": 1772.0})
    rec = cwru.load_record(cwru.parse_name(path))
    assert rec.rpm == 1772.0 and rec.signal is not None and rec.signal.mean() == pytest.approx(1.0, abs=0.2)
