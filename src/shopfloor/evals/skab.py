"""SKAB suite: per-file 400-row training part, outlier F1/FAR/MAR and changepoint NAB scores."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shopfloor.core.errors import ConfigError

from .skabscore import ChangepointTally, binary_scores, changepoints_from_alarms

log = logging.getLogger(__name__)

TRAIN_ROWS = 400
SENSORS = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)


@dataclass
class Experiment:
    """One SKAB file: times in seconds, the 8 sensors, and the two label columns."""

    name: str
    t: np.ndarray
    X: np.ndarray
    anomaly: np.ndarray
    changepoint: np.ndarray


def read_file(path: Path) -> Experiment:
    """Read one ``;``-separated SKAB CSV with label columns."""
    with path.open(encoding="utf-8-sig") as fh:
        header = fh.readline().strip().split(";")
        rows = [line.rstrip("\n").split(";") for line in fh if line.strip()]
    try:
        cols = [header.index(c) for c in (*SENSORS, "anomaly", "changepoint")]
        ti = header.index("datetime")
    except ValueError as err:
        raise ConfigError(f"{path}: not a labelled SKAB file ({err}); header is {header}") from err
    try:
        t = np.array([np.datetime64(r[ti].strip().replace(" ", "T"), "ms") for r in rows]).astype(np.int64)
        data = np.array([[float(r[c]) for c in cols] for r in rows])
    except (ValueError, IndexError) as err:
        raise ConfigError(f"{path}: malformed row ({err})") from err
    return Experiment(
        f"{path.parent.name}/{path.name}",
        t.astype(float) / 1000.0,
        data[:, :8],
        data[:, 8].astype(int),
        data[:, 9].astype(int),
    )


def find_files(data: Path) -> list[Path]:
    """Every labelled CSV under ``data`` (``<group>/<n>.csv`` as upstream, or CSVs directly in it).

    ``anomaly-free`` files have no labels and are skipped, as in the leaderboard notebooks.
    """
    if not data.is_dir():
        raise ConfigError(f"SKAB data directory {data} does not exist")
    files = sorted(
        (p for p in data.rglob("*.csv") if "anomaly-free" not in p.relative_to(data).parts),
        key=lambda p: (str(p.parent.relative_to(data)), _num(p.stem)),
    )
    if not files:
        raise ConfigError(
            f"{data}: no SKAB files found; expected <group>/<n>.csv such as valve1/0.csv (';'-separated)"
        )
    return files


def _num(stem: str) -> tuple[int, str]:
    return (int(stem), "") if stem.isdigit() else (10**9, stem)


def run(data: Path, progress: Callable[[str, float], None] | None = None, detector: str = "default") -> dict:
    """Run the SKAB protocol over every labelled file under ``data``."""
    from .detectors import skab_alarms

    files = find_files(data)
    tp = tn = fp = fn = 0
    cps = ChangepointTally()
    per_file = {}
    for i, path in enumerate(files):
        ex = read_file(path)
        if len(ex.t) <= TRAIN_ROWS:
            raise ConfigError(f"{path}: {len(ex.t)} rows, need more than the {TRAIN_ROWS} training rows")
        alarm = skab_alarms(ex.X[:TRAIN_ROWS], ex.X[TRAIN_ROWS:], detector)
        y = ex.anomaly[TRAIN_ROWS:] == 1
        a = alarm.astype(bool)
        tp += int((a & y).sum())
        tn += int((~a & ~y).sum())
        fp += int((a & ~y).sum())
        fn += int((~a & y).sum())
        t_test = ex.t[TRAIN_ROWS:]
        cps.add(t_test, t_test[ex.changepoint[TRAIN_ROWS:] == 1].tolist(), changepoints_from_alarms(alarm))
        per_file[ex.name] = binary_scores(
            int((a & y).sum()), int((~a & ~y).sum()), int((a & ~y).sum()), int((~a & y).sum())
        )
        if progress:
            progress(ex.name, (i + 1) / len(files))
    return {
        "suite": "skab",
        "detector": detector,
        "files": len(files),
        "outlier": {**binary_scores(tp, tn, fp, fn), "tp": tp, "tn": tn, "fp": fp, "fn": fn},
        "changepoint": cps.result(),
        "per_file": per_file,
    }
