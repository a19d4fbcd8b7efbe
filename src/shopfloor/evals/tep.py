"""Tennessee Eastman (Braatz data): fault detection rate per fault and false alarm rate.

``--data DIR`` holds ``d00.dat`` (normal operation, stored 52 x 500, transposed) to fit
on. ``--test-data DIR`` holds the test runs ``dNN_te.dat`` (960 x 52, fault from
observation 161): FDR = share of observations 161-960 flagged, FAR = share of
observations 1-160 flagged (and of ``d00_te.dat`` when present). Without test runs,
the training fault files ``dNN.dat`` (480 x 52, all after the fault) are scored for
FDR, and FAR is measured on the last 40 % of ``d00.dat`` held out from fitting.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shopfloor.core.errors import ConfigError

log = logging.getLogger(__name__)

N_VARS = 52
FAULT_START = 160  # 0-based first faulty row of a *_te run
EXCLUDED = (3, 9, 15)
_NAME = re.compile(r"^d(\d\d)(_te)?\.dat$")


def read_dat(path: Path) -> np.ndarray:
    """One ``.dat`` file as observations x 52 (transposes the 52 x N training file)."""
    try:
        A = np.loadtxt(path, ndmin=2)
    except ValueError as err:
        raise ConfigError(f"{path}: not a whitespace-separated TEP matrix ({err})") from err
    if A.shape[1] == N_VARS:
        return A
    if A.shape[0] == N_VARS:
        return A.T
    raise ConfigError(f"{path}: shape {A.shape}, expected N x {N_VARS} (or {N_VARS} x N)")


def _runs(folder: Path, test: bool) -> dict[int, Path]:
    out = {}
    for p in folder.glob("d*.dat"):
        m = _NAME.match(p.name)
        if m and bool(m.group(2)) == test:
            out[int(m.group(1))] = p
    return out


def run(
    data: Path,
    test_data: Path | None = None,
    progress: Callable[[str, float], None] | None = None,
    detector: str = "default",
) -> dict:
    """Fit on normal operation, then score every fault run found."""
    from .detectors import tep_alarms, tep_fit

    normal = data / "d00.dat"
    if not normal.exists():
        raise ConfigError(f"{data}: no d00.dat (normal operation) in the TEP layout")
    X0 = read_dat(normal)
    if test_data is None and _runs(data, test=True) and not _runs(data, test=False).keys() - {0}:
        test_data = data  # only test runs next to d00.dat: use them as the test set
    if test_data is not None:
        runs = _runs(test_data, test=True)
        if not runs:
            raise ConfigError(f"{test_data}: no dNN_te.dat test runs found")
        model = tep_fit(X0, detector)
        mode = "test runs (dNN_te.dat)"
    else:
        runs = {k: p for k, p in _runs(data, test=False).items() if k > 0}
        if not runs:
            raise ConfigError(f"{data}: no fault files d01.dat .. d21.dat found")
        model = tep_fit(X0, detector)
        mode = "training files (dNN.dat); FAR = held-out (5-fold CV) alarms on d00.dat"
    fdr: dict[str, float] = {}
    far_parts: list[np.ndarray] = []
    for i, (k, path) in enumerate(sorted(runs.items())):
        X = read_dat(path)
        alarm = tep_alarms(model, X)
        if test_data is None:
            fdr[f"{k:02d}"] = round(float(alarm.mean()), 4)
        elif k == 0:
            far_parts.append(alarm)
        else:
            far_parts.append(alarm[:FAULT_START])
            fdr[f"{k:02d}"] = round(float(alarm[FAULT_START:].mean()), 4)
        if progress:
            progress(path.name, (i + 1) / len(runs))
    kept = [v for k, v in fdr.items() if int(k) not in EXCLUDED]
    far = float(np.concatenate(far_parts).mean()) if far_parts else model.held_out_far
    excluded = [fdr[f"{k:02d}"] for k in EXCLUDED if f"{k:02d}" in fdr]
    return {
        "suite": "tep",
        "detector": detector,
        "mode": mode,
        "faults": len(fdr),
        "avg_fdr_excl_3_9_15": round(float(np.mean(kept)), 4) if kept else None,
        "avg_fdr_all": round(float(np.mean(list(fdr.values()))), 4) if fdr else None,
        "far": round(far, 4),
        "avg_fdr_3_9_15": round(float(np.mean(excluded)), 4) if excluded else None,
        "fdr": fdr,
    }
