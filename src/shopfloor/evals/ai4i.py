"""AI4I 2020 suite: machine failure and failure-type prediction, stratified k-fold CV.

Protocol (``SOURCE.md``): drop ``UDI`` and ``Product ID``; never use the failure-mode columns as
features; stratified 10-fold cross-validation. Reported:

* ``machine_failure``: binary; macro-F1 (both classes), F1/precision/recall of the failure
  class, ROC-AUC, balanced accuracy; threshold 0.5 on the out-of-fold probability.
* ``failure_type``: one multi-class label per row (``none``, a single mode, or ``multiple``),
  macro-F1 over the classes and one-vs-rest ROC-AUC per class and macro-averaged, plus the
  same figures without ``RNF`` (random failures, by construction unpredictable).
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shopfloor.analytics.maintenance import macro_f1
from shopfloor.analytics.maintenance.tabular import FailureClassifier
from shopfloor.core.errors import ConfigError

log = logging.getLogger(__name__)

FOLDS = 10
SEED = 0
FEATURES = (
    "Type",
    "Air temperature [K]",
    "Process temperature [K]",
    "Rotational speed [rpm]",
    "Torque [Nm]",
    "Tool wear [min]",
)
MODES = ("TWF", "HDF", "PWF", "OSF", "RNF")
GRADES = {"L": 0, "M": 1, "H": 2}


def read(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (grade coded L/M/H = 0/1/2), ``Machine failure`` and the mode columns of one CSV."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ConfigError(f"{path}: empty")
    missing = [c for c in (*FEATURES, "Machine failure", *MODES) if c not in rows[0]]
    if missing:
        raise ConfigError(f"{path}: missing columns {missing}; header is {list(rows[0])}")
    try:
        X = np.array(
            [[GRADES[r["Type"].strip()], *(float(r[c]) for c in FEATURES[1:])] for r in rows], dtype=float
        )
        y = np.array([int(r["Machine failure"]) for r in rows])
        modes = np.array([[int(r[m]) for m in MODES] for r in rows])
    except (KeyError, ValueError) as err:
        raise ConfigError(f"{path}: malformed row ({err!r})") from err
    return X, y, modes


def find_csv(data: Path) -> Path:
    """The one AI4I CSV in ``data`` (``ai4i2020.csv`` or any CSV with its columns)."""
    cands = sorted(data.glob("*.csv"))
    if not cands:
        raise ConfigError(f"{data}: no CSV file (expected ai4i2020.csv)")
    named = [p for p in cands if p.name.lower().startswith("ai4i")]
    return (named or cands)[0]


def type_labels(modes: np.ndarray) -> np.ndarray:
    """``none``, the single failure mode, or ``multiple`` for every row."""
    n = modes.sum(axis=1)
    single = np.array(MODES)[modes.argmax(axis=1)]
    return np.where(n == 0, "none", np.where(n == 1, single, "multiple"))


def folds(y: np.ndarray, k: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """Stratified fold index per row."""
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(y), dtype=int)
    k = max(2, min(k, int(np.bincount(np.unique(y, return_inverse=True)[1]).min()) or 2))
    for f, (_, test) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(y, y)):
        out[test] = f
    return out


def out_of_fold(
    X: np.ndarray, y: np.ndarray, fold: np.ndarray, **params: float
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold class probabilities and the class order; ``params`` go to the classifier."""
    classes = np.unique(y)
    P = np.zeros((len(y), len(classes)))
    for f in np.unique(fold):
        test = fold == f
        m = FailureClassifier(**params).fit(X[~test], y[~test])  # type: ignore[arg-type]
        P[np.ix_(test, np.searchsorted(classes, m.classes_))] = m.predict_proba(X[test])
    return P, classes


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else float("nan")


def binary_report(y: np.ndarray, p: np.ndarray) -> dict:
    """Metrics of a binary out-of-fold probability at threshold 0.5."""
    pred = (p >= 0.5).astype(int)
    tp, fp, fn = (
        int(((pred == 1) & (y == 1)).sum()),
        int(((pred == 1) & (y == 0)).sum()),
        int(((pred == 0) & (y == 1)).sum()),
    )
    tn = len(y) - tp - fp - fn
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {
        "macro_f1": round(macro_f1(y, pred), 4),
        "f1_failure": round(2 * tp / (2 * tp + fp + fn) if tp else 0.0, 4),
        "precision": round(prec, 4),
        "recall": round(rec, 4),
        "roc_auc": round(_auc(y, p), 4),
        "balanced_accuracy": round((rec + (tn / (tn + fp) if tn + fp else 0.0)) / 2, 4),
        "accuracy": round(float(np.mean(pred == y)), 4),
        "positives": int(y.sum()),
    }


def run(
    data: Path, progress: Callable[[str, float], None] | None = None, k: int = FOLDS, **params: float
) -> dict:
    """Stratified ``k``-fold CV for machine failure and for the failure type (``params``: model)."""
    path = find_csv(data)
    X, y, modes = read(path)
    t0 = time.process_time()
    P, _ = out_of_fold(X, y, folds(y, k), **params)
    binary = binary_report(y, P[:, -1])
    if progress:
        progress("machine failure", 0.5)
    labels = type_labels(modes)
    Pt, classes = out_of_fold(X, labels, folds(labels, k), **params)
    pred = classes[Pt.argmax(axis=1)]
    per = {
        str(c): {
            "f1": round(_f1(labels == c, pred == c), 4),
            "roc_auc": round(_auc((labels == c).astype(int), Pt[:, i]), 4),
            "n": int((labels == c).sum()),
        }
        for i, c in enumerate(classes)
    }
    keep = labels != "RNF"
    no_rnf = [c for c in classes if c != "RNF"]
    failure_type = {
        "classes": [str(c) for c in classes],
        "macro_f1": round(macro_f1(labels, pred), 4),
        "macro_roc_auc": round(float(np.nanmean([v["roc_auc"] for v in per.values()])), 4),
        "macro_f1_without_rnf": round(macro_f1(labels[keep], pred[keep]), 4),
        "macro_roc_auc_without_rnf": round(float(np.nanmean([per[str(c)]["roc_auc"] for c in no_rnf])), 4),
        "accuracy": round(float(np.mean(pred == labels)), 4),
        "per_class": per,
    }
    if progress:
        progress("failure type", 1.0)
    return {
        "suite": "ai4i",
        "file": path.name,
        "rows": len(y),
        "protocol": {
            "cv": f"stratified {k}-fold, seed {SEED}",
            "threshold": 0.5,
            "features": [*FEATURES, "power", "temperature difference", "strain"],
        },
        "machine_failure": binary,
        "failure_type": failure_type,
        "cpu_s": round(time.process_time() - t0, 1),
    }


def _f1(t: np.ndarray, p: np.ndarray) -> float:
    tp, fp, fn = float((t & p).sum()), float((~t & p).sum()), float((t & ~p).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
