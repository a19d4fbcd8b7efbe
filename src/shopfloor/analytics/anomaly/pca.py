"""PCA monitoring of correlated sensors: Hotelling's T² and the Q (SPE) residual.

A batch model of normal operation (``fit``) scored one sample at a time
(``score_one``, river's shape) or many at once (``score_many``). The score is the
larger of T² and Q, each divided by its control limit at the training quantile,
so 1.0 is the edge of normal and the detector works without labels.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> z = rng.normal(size=(500, 2))
>>> X = np.column_stack([z[:, 0], z[:, 0] + 0.1 * z[:, 1], z[:, 1]])
>>> det = PCA(variance=0.9).fit(X)
>>> det.score_one({"a": 0.0, "b": 0.0, "c": 0.0}) < 1.0
True
>>> det.score_one([3.0, -3.0, 0.0]) > 5.0     # breaks the a ~ b correlation
True
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

log = logging.getLogger(__name__)

Sample = Mapping[str, float] | Sequence[float] | np.ndarray


class PCA:
    """T² + Q detector; ``variance`` picks the retained components, ``quantile`` the limits."""

    def __init__(self, variance: float = 0.9, quantile: float = 0.99, ridge: float = 1e-6) -> None:
        self.variance = variance
        self.quantile = quantile
        self.ridge = ridge
        self.keys: list[str] | None = None
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.loadings_: np.ndarray | None = None  # (d, k), already divided by sqrt(eigenvalue)
        self.residual_: np.ndarray | None = None  # (d, d) projector onto the residual space
        self.t2_limit_ = 1.0
        self.q_limit_ = 1.0

    def fit(self, X: np.ndarray | Sequence[Mapping[str, float]]) -> PCA:
        """Learn normal operation from rows of ``X`` (array or list of dicts)."""
        A = self._matrix(X, learn_keys=True)
        self.mean_ = A.mean(axis=0)
        sd = A.std(axis=0)
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        Z = (A - self.mean_) / self.scale_
        cov = np.cov(Z, rowvar=False) + self.ridge * np.eye(Z.shape[1])
        vals, vecs = np.linalg.eigh(np.atleast_2d(cov))
        vals, vecs = vals[::-1], vecs[:, ::-1]
        share = np.cumsum(vals) / vals.sum()
        k = min(int(np.searchsorted(share, self.variance)) + 1, len(vals))
        self.loadings_ = vecs[:, :k] / np.sqrt(np.maximum(vals[:k], self.ridge))
        P = vecs[:, :k]
        self.residual_ = np.eye(len(vals)) - P @ P.T
        t2, q = self._stats(Z)
        self.t2_limit_ = float(np.quantile(t2, self.quantile)) or 1.0
        # with every component kept the residual is rounding noise: Q carries no information
        self.q_limit_ = float(np.quantile(q, self.quantile)) if k < len(vals) else np.inf
        self.q_limit_ = self.q_limit_ or 1.0
        log.debug("PCA fit: %d rows, %d of %d components", len(A), k, len(vals))
        return self

    def learn_one(self, x: Sample) -> PCA:
        """PCA is a batch model of normal operation: use :meth:`fit`; this is a no-op."""
        return self

    def score_one(self, x: Sample) -> float:
        """Score of one sample (dict keyed like the training data, or a vector)."""
        if self.mean_ is None:
            return 0.0
        v = _vector(x, self.keys)
        z = (np.asarray(v, dtype=float) - self.mean_) / self.scale_
        s = z @ self.loadings_
        r = self.residual_ @ z
        return max(float(s @ s) / self.t2_limit_, float(r @ r) / self.q_limit_)

    def score_many(self, X: np.ndarray | Sequence[Mapping[str, float]]) -> np.ndarray:
        """Scores of many samples at once (same values as :meth:`score_one`)."""
        if self.mean_ is None:
            return np.zeros(len(X))
        Z = (self._matrix(X) - self.mean_) / self.scale_
        t2, q = self._stats(Z)
        return np.maximum(t2 / self.t2_limit_, q / self.q_limit_)

    def _stats(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        S = Z @ self.loadings_
        R = Z @ self.residual_
        return (S * S).sum(axis=1), (R * R).sum(axis=1)

    def _matrix(self, X: np.ndarray | Sequence[Mapping[str, float]], learn_keys: bool = False) -> np.ndarray:
        if len(X) and isinstance(X[0], Mapping):
            if learn_keys or not self.keys:
                self.keys = list(X[0])
            keys = self.keys
            return np.array([[row[k] for k in keys] for row in X], dtype=float)
        return np.atleast_2d(np.asarray(X, dtype=float))


def _vector(x: Mapping[str, float] | Sequence[float] | np.ndarray, keys: list[str] | None) -> np.ndarray:
    """One sample as a vector (dicts in training key order, or insertion order)."""
    if isinstance(x, Mapping):
        return np.fromiter((x[k] for k in keys) if keys else x.values(), float)
    return np.asarray(x, dtype=float)
