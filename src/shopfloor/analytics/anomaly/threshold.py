"""Thresholds without labels from extreme value theory (peaks over threshold, POT).

Scores above a high initial quantile ``level`` are excesses; the Pickands-Balkema-de
Haan theorem says they follow a generalised Pareto distribution (GPD), fitted here
by the method of moments. The threshold is the score exceeded with probability
``risk``: ``z = t + s/xi ((risk n / N_t)^(-xi) - 1)``. :class:`SPOT` keeps
refitting on the peaks it sees in a stream (Siffer et al., KDD 2017).

>>> import numpy as np
>>> x = np.random.default_rng(0).exponential(size=20000)
>>> round(pot_threshold(x, risk=1e-3), 1)     # exact: ln(1000) = 6.9
6.9
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shopfloor.core.errors import ConfigError


def _gpd_moments(excess: np.ndarray) -> tuple[float, float]:
    m = float(excess.mean())
    v = float(excess.var())
    if v <= 0 or m <= 0:
        return 0.0, max(m, 1e-12)
    xi = 0.5 * (1.0 - m * m / v)
    sigma = 0.5 * m * (m * m / v + 1.0)
    return xi, sigma


def _quantile(t: float, xi: float, sigma: float, risk: float, n: int, n_t: int) -> float:
    r = risk * n / n_t
    if abs(xi) < 1e-9:
        return t - sigma * math.log(r)
    return t + sigma / xi * (r ** (-xi) - 1.0)


def pot_threshold(scores: Sequence[float] | np.ndarray, risk: float = 1e-3, level: float = 0.98) -> float:
    """Score exceeded with probability ``risk`` under a GPD tail fitted above quantile ``level``."""
    s = np.asarray(scores, dtype=float)
    if len(s) < 20 or not 0 < risk < 1 - level:
        raise ConfigError(f"pot_threshold needs >= 20 scores and 0 < risk < 1 - level (risk={risk})")
    t = float(np.quantile(s, level))
    excess = s[s > t] - t
    if len(excess) < 3:
        return float(s.max())
    xi, sigma = _gpd_moments(excess)
    return _quantile(t, xi, sigma, risk, len(s), len(excess))


class SPOT:
    """Streaming POT: ``fit`` on calibration scores, then ``update_one`` per new score."""

    def __init__(self, risk: float = 1e-3, level: float = 0.98) -> None:
        self.risk = risk
        self.level = level
        self.t = 0.0
        self.threshold = math.inf
        self._peaks: list[float] = []
        self._n = 0

    def fit(self, scores: Sequence[float] | np.ndarray) -> SPOT:
        s = np.asarray(scores, dtype=float)
        self.t = float(np.quantile(s, self.level))
        self._peaks = list(s[s > self.t] - self.t)
        self._n = len(s)
        self.threshold = pot_threshold(s, self.risk, self.level)
        return self

    def update_one(self, score: float) -> bool:
        """Return whether ``score`` is anomalous; normal peaks refine the tail model."""
        if score > self.threshold:
            return True
        self._n += 1
        if score > self.t:
            self._peaks.append(score - self.t)
            xi, sigma = _gpd_moments(np.asarray(self._peaks))
            self.threshold = _quantile(self.t, xi, sigma, self.risk, self._n, len(self._peaks))
        return False


def cv_limit(
    make: Callable[[], Any], X: np.ndarray, quantile: float = 0.99, folds: int = 5
) -> tuple[float, np.ndarray]:
    """Out-of-sample control limit by blocked cross-validation, and the held-out scores.

    In-sample limits of a model with many variables are optimistic (the model has
    seen the very rows it is scored on). Here each contiguous block of ``X`` is
    scored by a model ``make().fit(...)`` trained on the other blocks, and the limit
    is the ``quantile`` of those held-out scores.

    >>> import numpy as np
    >>> from shopfloor.analytics.anomaly import PCA
    >>> X = np.random.default_rng(0).normal(size=(300, 20))
    >>> lim, held = cv_limit(lambda: PCA(0.9), X)
    >>> bool(lim > 1.0), len(held)
    (True, 300)
    """
    A = np.asarray(X, dtype=float)
    if len(A) < 2 * folds:
        raise ConfigError(f"cv_limit needs at least {2 * folds} rows, got {len(A)}")
    held = np.empty(len(A))
    for idx in np.array_split(np.arange(len(A)), folds):
        mask = np.ones(len(A), dtype=bool)
        mask[idx] = False
        model = make().fit(A[mask])
        if hasattr(model, "reset"):  # stateful (smoothing) models start each block afresh
            model.reset()
        held[idx] = model.score_many(A[idx])
    return float(np.quantile(held, quantile)), held
