"""NAB scoring (Numenta Anomaly Benchmark v1.1 "sweeper"), reimplemented with numpy.

Follows ``nab/sweeper.py`` of ``numenta/NAB`` exactly: every row gets a *sweep
score* (a scaled sigmoid of its position relative to the anomaly windows), the
probationary rows (first ``min(floor(0.15 n), 750)``) are ignored, a window is
worth the best (earliest) detection inside it or ``-A_fn`` when missed, and every
detection outside the windows costs its (sigmoid-weighted) ``A_fp``. One
threshold per profile is chosen to maximise the corpus score, and the corpus
score is normalised so the null detector scores 0 and the perfect one 100.

>>> round(scaled_sigmoid(-1.0), 6), round(scaled_sigmoid(-0.5), 6), scaled_sigmoid(3.0)
(0.986614, 0.848284, -1.0)
>>> f = FileSweep.build(7, [(1, 2), (4, 5)], probation=0, profile=Profile(1.1, 0.11, 1.2))
>>> round(f.score_at(np.array([0, 0, 1, 0, 1, 0, 0.0]), 0.5), 6)   # NAB testTruePositivesMultiple
2.045772
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PROBATION_PERCENT = 0.15


@dataclass(frozen=True)
class Profile:
    """Application profile (cost matrix) of NAB."""

    tp: float = 1.0
    fp: float = 0.11
    fn: float = 1.0


PROFILES: dict[str, Profile] = {
    "standard": Profile(1.0, 0.11, 1.0),
    "reward_low_FP_rate": Profile(1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile(1.0, 0.11, 2.0),
}


def scaled_sigmoid(position: float) -> float:
    """NAB's scaled sigmoid of a relative position (-1: left window edge, 0: right edge)."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def probation_length(n: int) -> int:
    """Probationary rows of a file with ``n`` rows: ``min(floor(0.15 n), 0.15 * 5000)``."""
    return int(min(math.floor(PROBATION_PERCENT * n), PROBATION_PERCENT * 5000))


@dataclass
class FileSweep:
    """Per-row sweep weights and window membership of one data file."""

    weight: np.ndarray  # sweep score of each row if it were a detection
    window: np.ndarray  # window index of each row, -1 outside any window
    scorable: np.ndarray  # False for probationary rows
    n_windows: int  # windows that contain at least one scorable row
    profile: Profile

    @classmethod
    def build(
        cls, n: int, windows: Sequence[tuple[int, int]], probation: int | None, profile: Profile
    ) -> FileSweep:
        """Sweep for ``n`` rows and windows given as inclusive ``(first, last)`` row indices."""
        weight = np.empty(n)
        window = np.full(n, -1, dtype=np.int64)
        prev_right: int | None = None
        prev_width = 0.0
        i = 0
        for k, (left, right) in enumerate(sorted(windows)):
            _fill_outside(weight, i, left, prev_right, prev_width, profile)
            width = float(right - left + 1)
            idx = np.arange(left, right + 1)
            pos = -(right - idx + 1) / width
            weight[left : right + 1] = (2.0 / (1.0 + np.exp(5.0 * pos)) - 1.0) * profile.tp / MAX_TP
            window[left : right + 1] = k
            prev_right, prev_width, i = right, width, right + 1
        _fill_outside(weight, i, n, prev_right, prev_width, profile)
        prob = probation_length(n) if probation is None else probation
        scorable = np.arange(n) >= prob
        live = np.unique(window[scorable & (window >= 0)])
        window[~np.isin(window, live) & (window >= 0)] = -2  # windows inside probation never count
        return cls(weight, window, scorable, len(live), profile)

    def score_at(self, scores: np.ndarray, threshold: float) -> float:
        """Raw NAB score of this file when rows with ``scores >= threshold`` are detections."""
        det = self.scorable & (np.asarray(scores) >= threshold)
        total = float(self.weight[det & (self.window == -1)].sum())
        for k in np.unique(self.window[self.window >= 0]):
            hit = det & (self.window == k)
            total += max(float(self.weight[hit].max()), -self.profile.fn) if hit.any() else -self.profile.fn
        return total

    def counts_at(self, scores: np.ndarray, threshold: float) -> dict[str, int]:
        """Detected windows, missed windows and false-positive rows at a threshold."""
        det = self.scorable & (np.asarray(scores) >= threshold)
        wins = np.unique(self.window[self.window >= 0])
        tp = sum(1 for k in wins if (det & (self.window == k)).any())
        return {"tp": tp, "fn": len(wins) - tp, "fp": int((det & (self.window == -1)).sum())}


def _fill_outside(
    weight: np.ndarray, start: int, stop: int, prev_right: int | None, prev_width: float, profile: Profile
) -> None:
    if stop <= start:
        return
    if prev_right is None:
        weight[start:stop] = -1.0 * profile.fp
        return
    idx = np.arange(start, stop)
    pos = np.abs(prev_right - idx) / (prev_width - 1.0) if prev_width > 1 else np.full(len(idx), 3.0)
    sig = np.where(pos >= 3.0, -1.0, 2.0 / (1.0 + np.exp(np.minimum(5.0 * pos, 700.0))) - 1.0)
    weight[start:stop] = sig * profile.fp


def best_threshold(sweeps: Sequence[FileSweep], scores: Sequence[np.ndarray]) -> tuple[float, float]:
    """Threshold maximising the summed raw score over the corpus, and that score.

    Equivalent to NAB's ``Sweeper.calcScoreByThreshold`` over all files followed by
    ``max(..., key=score)``: detections are rows with score >= threshold.
    """
    vals, deltas = [], []
    base = 0.0
    offset = 0
    for sw, sc in zip(sweeps, scores, strict=True):
        s = np.asarray(sc, dtype=float)[sw.scorable]
        w = sw.weight[sw.scorable]
        win = sw.window[sw.scorable]
        order = np.argsort(-s, kind="stable")
        s, w, win = s[order], w[order], win[order]
        delta = np.where(win == -1, w, 0.0)
        fn = sw.profile.fn
        for k in np.unique(win[win >= 0]):
            base -= fn
            pos = np.flatnonzero(win == k)
            best = np.maximum.accumulate(np.maximum(w[pos], -fn))
            prev = np.concatenate(([-fn], best[:-1]))
            delta[pos] = best - prev
        vals.append(s)
        deltas.append(delta)
        offset += len(s)
    allv = np.concatenate(vals) if vals else np.zeros(0)
    alld = np.concatenate(deltas) if deltas else np.zeros(0)
    order = np.argsort(-allv, kind="stable")
    allv, alld = allv[order], alld[order]
    cum = base + np.cumsum(alld)
    # a threshold T includes every row with score >= T: take the last row of each tie group
    last = np.flatnonzero(np.append(allv[1:] != allv[:-1], True))
    cand_t = np.concatenate(([1.1], allv[last]))
    cand_s = np.concatenate(([base], cum[last]))
    i = int(np.argmax(cand_s))
    return float(cand_t[i]), float(cand_s[i])


def normalised(raw: float, n_windows: int, profile: Profile) -> float:
    """``100 (S - S_null) / (S_perfect - S_null)`` with S_null = -A_fn W and S_perfect = A_tp W."""
    null, perfect = -profile.fn * n_windows, profile.tp * n_windows
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)
