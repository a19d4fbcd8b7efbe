"""CWRU suite: 10-class bearing fault classification on the drive-end signal, no leakage.

Protocols (``SOURCE.md``):

* ``within_load``: each record is cut into non-overlapping segments; the first ``TRAIN_SHARE`` of
  every record trains, the rest tests (a time split: no segment, and no overlap, crosses the cut).
* Training segments only are augmented by speed perturbation (resampled by 0.98 and 1.02).
* ``cross_load``: train on every segment of the training records, test on every segment of
  records at other loads: ``--test-data DIR``, or when ``--data`` alone holds several loads,
  train on the lowest load and test on the others.

Everything is derived from the file names ``[<rate>k_<end>_]<fault><size>[@<pos>]_<load>_<no>.mat``
(``normal_<load>_<no>.mat`` for the baseline, recorded at 48 kHz); signals are brought to 12 kHz.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shopfloor.analytics.maintenance import macro_f1
from shopfloor.analytics.maintenance.classify import (
    FaultClassifier,
    feature_matrix,
    segments,
    training_features,
)
from shopfloor.core.errors import ConfigError

log = logging.getLogger(__name__)

FS = 12000.0
SEGMENT = 2048
TRAIN_SHARE = 0.7
AUGMENT = (0.98, 1.0, 1.02)
NORMAL_RATE = 48000.0
NOMINAL_RPM = {0: 1797.0, 1: 1772.0, 2: 1750.0, 3: 1730.0}
NAME = re.compile(
    r"^(?:(?P<rate>\d+)k_[A-Za-z]+_[A-Za-z]+_)?(?P<fault>normal|B|IR|OR)(?P<size>\d{3})?"
    r"(?P<pos>@\d+)?_(?P<load>\d+)_(?P<no>\d+)\.mat$",
    re.IGNORECASE,
)


@dataclass
class Record:
    """One CWRU file: its class label, load (HP), sampling rate and drive-end signal."""

    path: Path
    label: str
    load: int
    rate: float
    rpm: float
    number: int = 0
    signal: np.ndarray | None = None


def parse_name(path: Path) -> Record:
    """Class, load and sampling rate from a CWRU file name.

    >>> r = parse_name(Path("12k_Drive_End_OR014@6_2_199.mat"))
    >>> r.label, r.load, r.rate
    ('OR014@6', 2, 12000.0)
    >>> parse_name(Path("normal_0_97.mat")).label
    'normal'
    """
    m = NAME.match(path.name)
    if not m:
        raise ConfigError(f"{path}: not a CWRU file name (<rate>k_Drive_End_<fault><size>_<load>_<no>.mat)")
    fault = m["fault"].upper() if m["fault"].lower() != "normal" else "normal"
    label = "normal" if fault == "normal" else f"{fault}{m['size'] or ''}{m['pos'] or ''}"
    rate = float(m["rate"]) * 1000.0 if m["rate"] else NORMAL_RATE
    load = int(m["load"])
    return Record(path, label, load, rate, NOMINAL_RPM.get(load, 1797.0), int(m["no"]))


def load_record(rec: Record) -> Record:
    """Read the drive-end signal (key ending ``_DE_time``) and shaft speed; resample to 12 kHz."""
    from scipy.io import loadmat
    from scipy.signal import resample_poly

    try:
        mat = loadmat(rec.path)
    except (ValueError, OSError, NotImplementedError) as err:
        raise ConfigError(f"{rec.path}: cannot read MATLAB file ({err})") from err
    de = [k for k in mat if k.endswith("_DE_time")]
    if not de:
        raise ConfigError(f"{rec.path}: no drive-end signal (*_DE_time) among {sorted(mat)}")
    own = [k for k in de if re.sub(r"\D", "", k.split("_")[0]).lstrip("0") == str(rec.number)]
    x = np.asarray(mat[(own or sorted(de))[0]], dtype=float).ravel()
    rpm = sorted(k for k in mat if k.endswith("RPM"))
    if rpm and np.size(mat[rpm[0]]):
        rec.rpm = float(np.asarray(mat[rpm[0]]).ravel()[0])
    if rec.rate != FS:
        from fractions import Fraction

        q = Fraction(int(FS), int(rec.rate)).limit_denominator(100)
        x = resample_poly(x, q.numerator, q.denominator)
    rec.signal = x
    return rec


def find_records(data: Path) -> list[Record]:
    """Every parseable ``.mat`` file under ``data``, signal loaded."""
    if not data.is_dir():
        raise ConfigError(f"CWRU data directory {data} does not exist")
    paths = sorted(p for p in data.rglob("*.mat") if NAME.match(p.name))
    if not paths:
        raise ConfigError(f"{data}: no CWRU .mat files (e.g. 12k_Drive_End_B007_0_118.mat, normal_0_97.mat)")
    return [load_record(parse_name(p)) for p in paths]


def _features(rec: Record, part: slice | None = None) -> np.ndarray:
    assert rec.signal is not None
    segs = segments(rec.signal, SEGMENT)
    segs = segs[part] if part is not None else segs
    return feature_matrix(segs, FS, rec.rpm / 60.0)


def _train_features(rec: Record, part: slice | None = None) -> np.ndarray:
    """Training segments of ``rec`` (the samples of ``part`` of its segments), speed-perturbed too."""
    assert rec.signal is not None
    n = len(rec.signal) // SEGMENT
    a, b, _ = (part or slice(0, n)).indices(n)
    return training_features(rec.signal[a * SEGMENT : b * SEGMENT], SEGMENT, FS, rec.rpm / 60.0, AUGMENT)


def _score(model: FaultClassifier, F: np.ndarray, y: np.ndarray) -> dict:
    pred = model.predict(F)
    per = {c: round(float(np.mean(pred[y == c] == c)), 4) for c in sorted(set(y.tolist()))}
    wrong = {f"{t}->{p}": int(n) for (t, p), n in _pairs(y[pred != y], pred[pred != y]).items()}
    return {
        "accuracy": round(float(np.mean(pred == y)), 4),
        "macro_f1": round(macro_f1(y, pred), 4),
        "test_segments": len(y),
        "per_class_recall": per,
        "confusions": wrong,
    }


def _pairs(t: np.ndarray, p: np.ndarray) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for a, b in zip(t.tolist(), p.tolist(), strict=True):
        out[(a, b)] = out.get((a, b), 0) + 1
    return out


def within_load(records: list[Record]) -> dict:
    """Time split of every record at one load: first ``TRAIN_SHARE`` trains, the rest tests."""
    Ftr, ytr, Fte, yte = [], [], [], []
    t0, test_cpu = time.process_time(), 0.0
    for rec in records:
        assert rec.signal is not None
        n = len(rec.signal) // SEGMENT
        cut = round(n * TRAIN_SHARE)
        Ftr.append(_train_features(rec, slice(0, cut)))
        ytr += [rec.label] * len(Ftr[-1])
        t1 = time.process_time()
        Fte.append(_features(rec, slice(cut, n)))
        test_cpu += time.process_time() - t1
        yte += [rec.label] * (n - cut)
    model = FaultClassifier().fit(np.vstack(Ftr), np.array(ytr))
    cpu = time.process_time() - t0 - test_cpu
    res = _score(model, np.vstack(Fte), np.array(yte))
    res.update(train_segments=len(ytr), classes=len(set(ytr)), train_cpu_s=round(cpu, 1))
    return res


def cross_load(train: list[Record], test: list[Record]) -> dict:
    """Train on every segment of ``train``; test on every segment of ``test``."""
    t0 = time.process_time()
    parts = [_train_features(r) for r in train]
    Ftr = np.vstack(parts)
    ytr = np.concatenate([[r.label] * len(f) for r, f in zip(train, parts, strict=True)])
    model = FaultClassifier().fit(Ftr, ytr)
    cpu = time.process_time() - t0
    out: dict = {
        "train_loads": sorted({r.load for r in train}),
        "train_segments": len(ytr),
        "train_cpu_s": round(cpu, 1),
    }
    unseen = sorted({r.label for r in test} - set(ytr.tolist()))
    if unseen:
        log.warning("test classes %s have no training files: their segments count as errors", unseen)
        out["unseen_classes"] = unseen
    Fte = [_features(r) for r in test]
    yte = np.concatenate([[r.label] * len(f) for r, f in zip(test, Fte, strict=True)])
    loads = np.concatenate([[r.load] * len(f) for r, f in zip(test, Fte, strict=True)])
    F = np.vstack(Fte)
    out["all"] = _score(model, F, yte)
    out["per_load"] = {str(ld): _score(model, F[loads == ld], yte[loads == ld]) for ld in sorted(set(loads))}
    return out


def run(
    data: Path, test_data: Path | None = None, progress: Callable[[str, float], None] | None = None
) -> dict:
    """Within-load accuracy per load in ``data``, and cross-load accuracy where possible."""
    records = find_records(data)
    loads = sorted({r.load for r in records})
    result: dict = {
        "suite": "cwru",
        "protocol": {
            "signal": "drive end, 12 kHz (48 kHz records resampled)",
            "segment": SEGMENT,
            "overlap": 0,
            "within_load_split": f"first {TRAIN_SHARE:.0%} of each record trains, the rest tests",
            "train_augmentation": f"speed perturbation x{list(AUGMENT)} of the training part only",
        },
        "files": len(records),
        "loads": loads,
        "within_load": {},
    }
    for i, ld in enumerate(loads):
        result["within_load"][str(ld)] = within_load([r for r in records if r.load == ld])
        if progress:
            progress(f"within load {ld}", (i + 1) / (len(loads) + 1))
    if test_data is not None:
        result["cross_load"] = cross_load(records, find_records(Path(test_data)))
    elif len(loads) > 1:
        result["cross_load"] = cross_load(
            [r for r in records if r.load == loads[0]], [r for r in records if r.load != loads[0]]
        )
    if progress:
        progress("done", 1.0)
    return result
