"""SKAB scoring, as in ``core/metrics.py`` of ``waico/SKAB`` (from the tsad library).

*Outliers*: one confusion matrix summed over every test part;
``F1 = TP / (TP + (FP + FN) / 2)``, ``FAR = FP / (FP + TN)`` and ``MAR = FN / (FN + TP)``
in percent (rounded like the leaderboard: F1 to 2 decimals, rates to 2).

*Changepoints*: predicted changepoints are the changes of the predicted outlier
series (``abs(prediction.diff())``, first value = first prediction). Each true
changepoint gets a window ``[t, t + 60 s]`` (both edges included; an overlapping
window is cut on its left by the previous one). The first prediction inside a
window scores SKAB's "improved" NAB function (a tanh from ``A_tp`` at the left edge
to ``A_fp`` at the right edge); a window without one costs ``A_fn``; every
prediction outside the windows costs ``A_fp``. Sums over all files are normalised
``100 (S - S_null) / (S_perfect - S_null)``.

>>> binary_scores(tp=50, tn=40, fp=5, fn=5)
{'f1': 0.91, 'far': 11.11, 'mar': 9.09}
>>> round(improved_scale(0.0, 1.0, -0.11), 4), round(improved_scale(1.0, 1.0, -0.11), 4)
(1.0, -0.11)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

PROFILES: dict[str, tuple[float, float, float]] = {  # A_tp, A_fp, A_fn
    "Standard": (1.0, -0.11, -1.0),
    "LowFP": (1.0, -0.22, -1.0),
    "LowFN": (1.0, -0.11, -2.0),
}
WINDOW_S = 60.0
_DETAIL = 1000
_X = np.linspace(-np.pi / 2, np.pi / 2, _DETAIL)


def binary_scores(tp: int, tn: int, fp: int, fn: int) -> dict[str, float]:
    """F1, FAR % and MAR % from a summed confusion matrix (SKAB's rounding)."""
    f1 = tp / (tp + (fn + fp) / 2) if tp + fn + fp else 1.0
    far = 100.0 * fp / (fp + tn) if fp + tn else 0.0
    mar = 100.0 * fn / (fn + tp) if fn + tp else 0.0
    return {"f1": round(f1, 2), "far": round(far, 2), "mar": round(mar, 2)}


def improved_scale(relative: float, a_tp: float, a_fp: float) -> float:
    """SKAB's tanh-shaped reward of a detection at ``relative`` (0..1) position in its window."""
    event = min(int(relative * _DETAIL), _DETAIL - 1)
    half = (a_tp - a_fp) / 2
    return float(half * -np.tanh(_X[event]) / np.tanh(np.pi / 2) + half + a_fp)


def changepoints_from_alarms(alarm: np.ndarray) -> np.ndarray:
    """``abs(prediction.diff())`` with the first value kept, as the SKAB notebooks do."""
    a = np.asarray(alarm, dtype=np.int64)
    out = np.zeros(len(a), dtype=bool)
    if len(a):
        out[0] = a[0] == 1
        out[1:] = np.abs(np.diff(a)) == 1
    return out


@dataclass
class ChangepointTally:
    """Running sums of SKAB's NAB-style changepoint score over several files."""

    score: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PROFILES, 0.0))
    null: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PROFILES, 0.0))
    perfect: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PROFILES, 0.0))
    missed: int = 0
    false_positives: int = 0
    changepoints: int = 0

    def add(self, t: np.ndarray, true_cp: Sequence[float], predicted: np.ndarray) -> None:
        """Add one file: times ``t`` in seconds, true changepoint times, predicted flags."""
        t = np.asarray(t, dtype=float)
        pred_t = t[np.asarray(predicted, dtype=bool)]
        bounds = [[c, c + WINDOW_S] for c in sorted(true_cp)]
        for i in range(len(bounds) - 1):  # "cut right window"
            if bounds[i][1] >= bounds[i + 1][0]:
                bounds[i + 1][0] = bounds[i][1]
        inside = np.zeros(len(pred_t), dtype=bool)
        firsts: list[float] = []
        for left, right in bounds:
            hit = (pred_t >= left) & (pred_t <= right)
            inside |= hit
            if hit.any():
                firsts.append((pred_t[hit][0] - left) / (right - left))
        n_fp = int((~inside).sum())
        n_fn = len(bounds) - len(firsts)
        for name, (a_tp, a_fp, a_fn) in PROFILES.items():
            s = a_fp * n_fp + a_fn * n_fn + sum(improved_scale(r, a_tp, a_fp) for r in firsts)
            self.score[name] += s
            self.null[name] += a_fn * len(bounds)
            self.perfect[name] += a_tp * len(bounds)
        self.missed += n_fn
        self.false_positives += n_fp
        self.changepoints += len(bounds)

    def result(self) -> dict[str, float | int]:
        """Normalised scores per profile plus missed changepoints and false positives."""
        out: dict[str, float | int] = {}
        for name in PROFILES:
            span = self.perfect[name] - self.null[name]
            out[name] = round(100 * (self.score[name] - self.null[name]) / span, 2) if span else 0.0
        out["missed_cps"] = self.missed
        out["fps"] = self.false_positives
        out["cps"] = self.changepoints
        return out
