"""Scores for remaining-useful-life and fault-classification results (pure numpy).

>>> round(phm08_score([10.0, 0.0], [0.0, 0.0]), 4)  # one engine 10 cycles late
1.7183
>>> round(rmse([3.0, 4.0], [0.0, 0.0]), 4)
3.5355
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ArrayLike = np.ndarray | Sequence[float]


def rmse(pred: ArrayLike, true: ArrayLike) -> float:
    """Root mean squared error."""
    d = np.asarray(pred, dtype=float) - np.asarray(true, dtype=float)
    return float(np.sqrt(np.mean(d**2))) if d.size else float("nan")


def phm08_score(pred: ArrayLike, true: ArrayLike) -> float:
    """PHM08 challenge score (Saxena et al. 2008): a sum over engines, late predictions cost more.

    With ``d = pred - true``: ``exp(-d / 13) - 1`` for early (``d < 0``) and ``exp(d / 10) - 1``
    for late predictions.
    """
    d = np.asarray(pred, dtype=float) - np.asarray(true, dtype=float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


def coverage(lo: ArrayLike, hi: ArrayLike, true: ArrayLike) -> float:
    """Share of ``true`` values inside ``[lo, hi]``."""
    t = np.asarray(true, dtype=float)
    inside = (np.asarray(lo, dtype=float) <= t) & (t <= np.asarray(hi, dtype=float))
    return float(np.mean(inside)) if t.size else float("nan")


def macro_f1(true: ArrayLike, pred: ArrayLike) -> float:
    """Unweighted mean of the per-class F1 over the classes present in ``true`` or ``pred``."""
    t, p = np.asarray(true), np.asarray(pred)
    scores = []
    for c in np.union1d(t, p):
        tp = float(np.sum((t == c) & (p == c)))
        fp = float(np.sum((t != c) & (p == c)))
        fn = float(np.sum((t == c) & (p != c)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
    return float(np.mean(scores)) if scores else float("nan")
