"""C-MAPSS suite: RUL per test engine at its last cycle, RMSE, PHM08 score, interval coverage.

Protocol (``SOURCE.md``): train on ``train_FD00x.txt`` only; target ``min(RUL, 125)``; predict
once per test engine at its last available cycle and compare with ``RUL_FD00x.txt``. The true
test RUL is also capped at 125 (as Li et al. 2018 and most later work); the uncapped figures
are reported next to it. Every subset found in the directory is evaluated on its own.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shopfloor.analytics.maintenance import RULRegressor, coverage, last_rows, phm08_score, rmse
from shopfloor.core.errors import ConfigError

log = logging.getLogger(__name__)

CAP = 125.0
ALPHA = 0.1
LEVELS = (0.5, 0.8, 0.9, 0.95)
SUBSET = re.compile(r"^train_(FD\d+)\.txt$", re.IGNORECASE)


def read_table(path: Path) -> np.ndarray:
    """One NASA text file: whitespace-separated, 26 columns (unit, cycle, 3 settings, 21 sensors)."""
    try:
        A = np.loadtxt(path, ndmin=2)
    except ValueError as err:
        raise ConfigError(f"{path}: not a C-MAPSS table ({err})") from err
    if A.shape[1] < 6:
        raise ConfigError(f"{path}: {A.shape[1]} columns, expected unit, cycle, 3 settings and sensors")
    order = np.lexsort((A[:, 1], A[:, 0]))
    return A[order]


def find_subsets(data: Path) -> list[tuple[str, Path, Path, Path]]:
    """``(name, train, test, rul)`` for every subset with all three files in ``data``."""
    found = []
    files = {p.name.lower(): p for p in data.iterdir() if p.is_file()}
    for _lower, train in sorted(files.items()):
        m = SUBSET.match(train.name)
        if not m:
            continue
        name = m.group(1).upper()
        test, rul = files.get(f"test_{name.lower()}.txt"), files.get(f"rul_{name.lower()}.txt")
        if test is None or rul is None:
            raise ConfigError(f"{data}: {train.name} has no matching test_{name}.txt and RUL_{name}.txt")
        found.append((name, train, test, rul))
    if not found:
        raise ConfigError(f"{data}: no C-MAPSS subsets (train_FD00x.txt, test_FD00x.txt, RUL_FD00x.txt)")
    return found


def split(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Units, cycles, settings and sensors of a table."""
    return A[:, 0].astype(int), A[:, 1], A[:, 2:5], A[:, 5:]


def train_rul(units: np.ndarray) -> np.ndarray:
    """RUL at every training row: cycles left until the unit's last (failure) cycle."""
    out = np.empty(len(units))
    start = 0
    for end in last_rows(units):
        out[start : end + 1] = np.arange(end - start, -1, -1)
        start = end + 1
    return out


def evaluate_subset(
    name: str, train: Path, test: Path, rul_file: Path, model: RULRegressor | None = None
) -> dict:
    """Fit on one subset's training file and score its test engines at their last cycle."""
    tr, te = read_table(train), read_table(test)
    true = np.loadtxt(rul_file, ndmin=1).astype(float).ravel()
    u_tr, _, s_tr, x_tr = split(tr)
    u_te, _, s_te, x_te = split(te)
    last = last_rows(u_te)
    if len(last) != len(true):
        raise ConfigError(f"{rul_file}: {len(true)} values for {len(last)} test engines in {test.name}")
    model = model or RULRegressor(cap=CAP)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    model.fit(u_tr, s_tr, x_tr, train_rul(u_tr))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    pred, lo, hi = model.predict_interval(u_te, s_te, x_te, alpha=ALPHA)
    pred, lo, hi = pred[last], lo[last], hi[last]
    capped = np.minimum(true, CAP)
    result = {
        "train_units": len(np.unique(u_tr)),
        "test_units": len(last),
        "operating_conditions": model.conditions.k,
        "rmse": round(rmse(pred, capped), 3),
        "score": round(phm08_score(pred, capped), 1),
        "rmse_uncapped_truth": round(rmse(pred, true), 3),
        "score_uncapped_truth": round(phm08_score(pred, true), 1),
        "mae": round(float(np.mean(np.abs(pred - capped))), 3),
        "bias": round(float(np.mean(pred - capped)), 3),
        "interval": {
            "nominal": 1 - ALPHA,
            "coverage": round(coverage(lo, hi, capped), 3),
            "mean_width": round(float(np.mean(hi - lo)), 2),
        },
        "coverage_by_level": _coverage_levels(model, u_te, s_te, x_te, last, capped),
        "train_cpu_s": round(cpu, 1),
        "train_wall_s": round(wall, 1),
    }
    log.info("%s: %s", name, result)
    return result


def _coverage_levels(
    model: RULRegressor,
    units: np.ndarray,
    settings: np.ndarray,
    sensors: np.ndarray,
    last: np.ndarray,
    truth: np.ndarray,
) -> dict[str, float]:
    """Empirical coverage of the conformal intervals at several nominal levels."""
    out = {}
    for level in LEVELS:
        _, lo, hi = model.predict_interval(units, settings, sensors, alpha=1 - level)
        out[f"{level:.2f}"] = round(coverage(lo[last], hi[last], truth), 3)
    return out


def run(data: Path, progress: Callable[[str, float], None] | None = None, **params: float) -> dict:
    """Evaluate every subset present in ``data``; ``params`` go to :class:`RULRegressor`."""
    subsets = find_subsets(data)
    out = {}
    for i, (name, train, test, rul_file) in enumerate(subsets):
        model = RULRegressor(**{"cap": CAP, **params})  # type: ignore[arg-type]
        out[name] = evaluate_subset(name, train, test, rul_file, model)
        if progress:
            progress(name, (i + 1) / len(subsets))
    return {
        "suite": "cmapss",
        "protocol": {
            "rul_cap": CAP,
            "test_truth_capped": True,
            "prediction": "last cycle of each test engine",
            "model": "per-condition z-score, window features, gradient-boosted trees",
            "interval": f"split-conformal, unit-wise out-of-fold, Mondrian by predicted RUL, {1 - ALPHA:.0%}",
        },
        "subsets": out,
    }
