"""MEWMA: multivariate EWMA chart for small, lasting shifts of correlated sensors.

Each sensor is standardised on normal data, smoothed by an EWMA (``alpha``), and the
smoothed vector is scored by its Mahalanobis distance (a :class:`PCA` model that
keeps every component) from the smoothed training data. Sensors that *wander*
during training (their block means vary far more than white noise would allow,
typical of slow temperatures) carry no usable reference and are left out when
``wander_max`` is set. The score is divided by its largest value on the training
data, so ``1.0`` is "as far as normal operation ever went".

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> det = MEWMA(alpha=0.1).fit(rng.normal(size=(400, 3)))
>>> quiet = det.score_many(rng.normal(size=(100, 3)))
>>> det.reset()
>>> shifted = det.score_many(rng.normal(size=(100, 3)) + [1.5, 0, 0])
>>> bool(quiet.max() < 2.0 < shifted[-50:].min())
True
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from .pca import PCA, _vector

log = logging.getLogger(__name__)
_dot = np.dot


def wander_ratio(x: np.ndarray, block: int = 50) -> float:
    """Variance of ``block``-means relative to what white noise would give (1.0 = stationary).

    >>> import numpy as np
    >>> r = wander_ratio(np.random.default_rng(0).normal(size=400))
    >>> 0.1 < r < 5, wander_ratio(np.arange(400.0)) > 100
    (True, True)
    """
    n = len(x) // block * block
    if n < 2 * block:
        return 1.0
    b = np.asarray(x[:n], dtype=float).reshape(-1, block)
    within = b.var(axis=1, ddof=1).mean() / block
    return float(b.mean(axis=1).var(ddof=1) / max(within, 1e-12))


class MEWMA:
    """Multivariate EWMA detector (batch ``fit``, streaming ``score_one``)."""

    def __init__(self, alpha: float = 0.1, wander_max: float | None = 20.0, warmup: int = 50) -> None:
        self.alpha = alpha
        self.wander_max = wander_max
        self.warmup = warmup
        self.keys: list[str] | None = None
        self.keep_: np.ndarray | None = None
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.model_: PCA | None = None
        self.limit_ = 1.0
        self._state: np.ndarray | None = None
        self._idx: list[int] = []
        self._all = False
        self._fast = False
        self._u: np.ndarray | None = None
        self._W = self._Winv = self._shift = self._A0 = self._A = self._buf = np.zeros(0)
        self._c = 1.0
        self._getter: Callable[[Mapping[str, float]], Any] | None = None
        self._getter_keys: list[str] | None = None

    def fit(self, X: np.ndarray | Sequence[Mapping[str, float]]) -> MEWMA:
        """Learn normal operation from consecutive rows of ``X``."""
        A = self._matrix(X, learn_keys=True)
        keep = np.ones(A.shape[1], dtype=bool)
        if self.wander_max is not None:
            keep = np.array([wander_ratio(A[:, j]) < self.wander_max for j in range(A.shape[1])])
            if not keep.any():
                keep[:] = True
        self.keep_ = keep
        self.mean_ = A[:, keep].mean(axis=0)
        sd = A[:, keep].std(axis=0)
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        S = self._smooth((A[:, keep] - self.mean_) / self.scale_, np.zeros(int(keep.sum())))
        ref = S[min(self.warmup, len(S) // 2) :]
        self.model_ = PCA(variance=1.0, quantile=1.0).fit(ref)
        self.limit_ = float(self.model_.score_many(ref).max()) or 1.0
        m = self.model_
        self._idx = np.flatnonzero(keep).tolist()
        self._all = bool(keep.all())
        assert m.loadings_ is not None and m.scale_ is not None and m.mean_ is not None
        self._fast = m.loadings_.shape[1] == m.loadings_.shape[0]  # every component kept: no Q part
        if self._fast:
            # whitened state u = W (s - shift) follows u' = (1 - a) u + A [x; 1] for a raw sample x
            W = (m.loadings_ / m.scale_[:, None]).T
            M = W / self.scale_[None, :]
            A0 = np.column_stack([M, -(M @ self.mean_ + W @ m.mean_)])
            self._W, self._Winv, self._shift = W, np.linalg.inv(W), m.mean_.copy()
            self._A0, self._A = A0, self.alpha * A0
            self._buf = np.ones(len(self._idx) + 1)
            self._c = 1.0 / (m.t2_limit_ * self.limit_)
        self._set_state(S[-1].copy())
        log.debug("MEWMA fit on %d rows, %d of %d sensors kept", len(A), keep.sum(), len(keep))
        return self

    def reset(self) -> None:
        """Start a new run: the smoothed state goes back to the normal mean (a MEWMA starts at 0)."""
        self._set_state(None if self.mean_ is None else np.zeros(len(self.mean_)))

    def _set_state(self, state: np.ndarray | None) -> None:
        self._state = state
        self._u = None if state is None or not self._fast else self._W @ (state - self._shift)

    def _get_state(self) -> np.ndarray | None:
        if self._fast:
            return None if self._u is None else self._Winv @ self._u + self._shift
        return self._state

    def learn_one(self, x: Mapping[str, float] | Sequence[float]) -> MEWMA:
        """Batch model of normal operation: use :meth:`fit`; this is a no-op."""
        return self

    def score_one(self, x: Mapping[str, float] | Sequence[float]) -> float:
        """Update the smoothed state with one sample and return its score."""
        if self.model_ is None:
            return 0.0
        if not self._fast:
            z = (_vector(x, self.keys)[self.keep_] - self.mean_) / self.scale_
            s = self._state
            self._state = s = z if s is None else self.alpha * z + (1.0 - self.alpha) * s
            return self.model_.score_one(s) / self.limit_
        buf = self._buf
        if isinstance(x, Mapping) and self.keys:
            getter = self._getter
            if getter is None or self._getter_keys is not self.keys:
                keys = self.keys
                getter = self._getter = itemgetter(*(keys[i] for i in self._idx))
                self._getter_keys = keys
            buf[:-1] = getter(x)
        elif self._all and not isinstance(x, Mapping):
            buf[:-1] = x
        else:
            buf[:-1] = _vector(x, self.keys)[self._idx]
        u = self._u
        self._u = u = _dot(self._A0, buf) if u is None else (1.0 - self.alpha) * u + _dot(self._A, buf)
        return float(_dot(u, u)) * self._c

    def contributions(self) -> dict[str, float]:
        """How far each sensor's smoothed value is from normal now, in training standard deviations.

        The sensors with the largest values are the ones behind a high score (empty before
        ``fit`` or before the first ``score_one``).
        """
        state = self._get_state()
        if state is None or self.keys is None:
            return {}
        return {self.keys[i]: round(abs(float(v)), 3) for i, v in zip(self._idx, state, strict=True)}

    def score_many(self, X: np.ndarray | Sequence[Mapping[str, float]]) -> np.ndarray:
        """Scores of consecutive samples (continues the smoothing state)."""
        if self.model_ is None:
            return np.zeros(len(X))
        Z = (self._matrix(X)[:, self.keep_] - self.mean_) / self.scale_
        S = self._smooth(Z, self._get_state())
        if len(S):
            self._set_state(S[-1].copy())
        return self.model_.score_many(S) / self.limit_

    def _smooth(self, Z: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        out = np.empty_like(Z)
        m = Z[0] if state is None else state
        a = self.alpha
        for i in range(len(Z)):
            m = a * Z[i] + (1 - a) * m
            out[i] = m
        return out

    def _matrix(self, X: np.ndarray | Sequence[Mapping[str, float]], learn_keys: bool = False) -> np.ndarray:
        if len(X) and isinstance(X[0], Mapping):
            if learn_keys or not self.keys:
                self.keys = list(X[0])
            keys = self.keys
            return np.array([[row[k] for k in keys] for row in X], dtype=float)
        return np.atleast_2d(np.asarray(X, dtype=float))
