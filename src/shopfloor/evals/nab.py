"""NAB suite: run a detector online over ``data/<category>/*.csv`` and score it NAB's way.

Layout (as ``numenta/NAB``): ``data/<category>/<file>.csv`` with ``timestamp,value``,
``labels/combined_windows.json``, and optionally ``config/profiles.json``. The corpus
is the set of files present under ``data/`` (a subset of the labels file is fine).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shopfloor.core.errors import ConfigError

from .nabscore import PROFILES, FileSweep, Profile, best_threshold, normalised

log = logging.getLogger(__name__)


def read_series(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps (datetime64[s]) and values of one NAB data file."""
    with path.open(encoding="utf-8-sig") as fh:
        header = fh.readline().strip().split(",")
        if header[:2] != ["timestamp", "value"]:
            raise ConfigError(f"{path}: expected header 'timestamp,value', got {header}")
        rows = [line.strip().split(",") for line in fh if line.strip()]
    try:
        t = np.array([np.datetime64(r[0].strip().replace(" ", "T"), "s") for r in rows])
        v = np.array([float(r[1]) for r in rows])
    except (ValueError, IndexError) as err:
        raise ConfigError(f"{path}: malformed row ({err})") from err
    return t, v


def window_rows(t: np.ndarray, windows: list[list[str]], name: str) -> list[tuple[int, int]]:
    """Inclusive row ranges of the labelled windows (their edges are timestamps of the file)."""
    out = []
    for left, right in windows:
        lo, hi = (np.datetime64(s.strip().replace(" ", "T"), "s") for s in (left, right))
        i, j = int(np.searchsorted(t, lo)), int(np.searchsorted(t, hi, side="right")) - 1
        if i > j:
            raise ConfigError(f"{name}: window {left} .. {right} holds no rows")
        out.append((i, j))
    return out


def load_profiles(data: Path) -> dict[str, Profile]:
    path = data / "config" / "profiles.json"
    if not path.exists():
        return dict(PROFILES)
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: Profile(c["CostMatrix"]["tpWeight"], c["CostMatrix"]["fpWeight"], c["CostMatrix"]["fnWeight"])
        for name, c in raw.items()
    }


def run(data: Path, progress: Callable[[str, float], None] | None = None, detector: str = "default") -> dict:
    """Score the default univariate detector on every file under ``data/data``."""
    from .detectors import nab_scores

    labels_path = data / "labels" / "combined_windows.json"
    files = sorted((data / "data").glob("*/*.csv"))
    if not files or not labels_path.exists():
        raise ConfigError(
            f"{data}: not a NAB directory; expected data/<category>/<file>.csv "
            "and labels/combined_windows.json"
        )
    labels = json.loads(labels_path.read_text(encoding="utf-8"))
    profiles = load_profiles(data)
    names, rows, scores = [], [], []
    for i, path in enumerate(files):
        name = f"{path.parent.name}/{path.name}"
        if name not in labels:
            raise ConfigError(f"{labels_path} has no entry for {name}")
        t, v = read_series(path)
        names.append(name)
        rows.append(window_rows(t, labels[name], name))
        scores.append(nab_scores(v, t, detector))
        if progress:
            progress(name, 0.9 * (i + 1) / len(files))
    out: dict = {"suite": "nab", "detector": detector, "files": len(files), "windows": sum(map(len, rows))}
    per_file: dict[str, dict] = {name: {} for name in names}
    for pname, prof in profiles.items():
        sweeps = [FileSweep.build(len(s), r, None, prof) for s, r in zip(scores, rows, strict=True)]
        thr, raw = best_threshold(sweeps, scores)
        n_win = sum(sw.n_windows for sw in sweeps)
        counts = {"tp": 0, "fn": 0, "fp": 0}
        for name, sw, s in zip(names, sweeps, scores, strict=True):
            per_file[name][pname] = round(sw.score_at(s, thr), 4)
            for k, c in sw.counts_at(s, thr).items():
                counts[k] += c
        out[pname] = round(normalised(raw, n_win, prof), 2)
        out[f"{pname}_detail"] = {"threshold": thr, "raw": round(raw, 4), **counts}
    out["per_file_raw"] = per_file
    if progress:
        progress("scored", 1.0)
    return out
