"""Isolation forest (Liu, Ting & Zhou, 2008) in numpy: a learned, label-free model.

Points that random axis-parallel splits isolate in few steps are anomalous. Score
``2^(-E[h(x)] / c(n))`` in (0, 1]; about 0.5 and below is normal.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> f = IsolationForest(trees=50, seed=0).fit(rng.normal(size=(500, 3)))
>>> f.score_one([0.0, 0.0, 0.0]) < 0.5 < f.score_one([6.0, -6.0, 6.0])
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _c(n: float) -> float:
    if n <= 1:
        return 0.0
    return 2.0 * (np.log(n - 1.0) + 0.5772156649) - 2.0 * (n - 1.0) / n


class IsolationForest:
    """``trees`` isolation trees grown on subsamples of ``sample`` rows."""

    def __init__(self, trees: int = 100, sample: int = 256, seed: int | None = None) -> None:
        self.trees = trees
        self.sample = sample
        self.seed = seed
        self._trees: list[tuple[np.ndarray, ...]] = []
        self._cn = 1.0

    def fit(self, X: np.ndarray | Sequence[Sequence[float]]) -> IsolationForest:
        A = np.atleast_2d(np.asarray(X, dtype=float))
        rng = np.random.default_rng(self.seed)
        m = min(self.sample, len(A))
        limit = int(np.ceil(np.log2(max(m, 2))))
        self._cn = _c(m)
        self._trees = [
            self._grow(A[rng.choice(len(A), m, replace=False)], limit, rng) for _ in range(self.trees)
        ]
        return self

    def learn_one(self, x: Sequence[float]) -> IsolationForest:
        """Batch model: use :meth:`fit`; this is a no-op."""
        return self

    @staticmethod
    def _grow(A: np.ndarray, limit: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        feat: list[int] = []
        left: list[int] = []
        right: list[int] = []
        size: list[int] = []
        thr: list[float] = []

        def node(rows: np.ndarray, depth: int) -> int:
            i = len(feat)
            feat.append(-1)
            thr.append(0.0)
            left.append(-1)
            right.append(-1)
            size.append(len(rows))
            if depth >= limit or len(rows) <= 1:
                return i
            lo, hi = rows.min(axis=0), rows.max(axis=0)
            cand = np.flatnonzero(hi > lo)
            if not len(cand):
                return i
            f = int(rng.choice(cand))
            t = float(rng.uniform(lo[f], hi[f]))
            feat[i], thr[i] = f, t
            mask = rows[:, f] < t
            left[i] = node(rows[mask], depth + 1)
            right[i] = node(rows[~mask], depth + 1)
            return i

        node(A, 0)
        return tuple(np.asarray(v) for v in (feat, thr, left, right, size))

    def score_many(self, X: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
        A = np.atleast_2d(np.asarray(X, dtype=float))
        depth = np.zeros(len(A))
        for feat, thr, left, right, size in self._trees:
            idx = np.zeros(len(A), dtype=np.int64)
            d = np.zeros(len(A))
            active = feat[idx] >= 0
            while active.any():
                rows = np.flatnonzero(active)
                f = feat[idx[rows]]
                go_left = A[rows, f] < thr[idx[rows]]
                idx[rows] = np.where(go_left, left[idx[rows]], right[idx[rows]])
                d[rows] += 1
                active = feat[idx] >= 0
            depth += d + np.array([_c(s) for s in size[idx]])
        return 2.0 ** (-(depth / len(self._trees)) / self._cn)

    def score_one(self, x: Sequence[float]) -> float:
        return float(self.score_many([x])[0])
