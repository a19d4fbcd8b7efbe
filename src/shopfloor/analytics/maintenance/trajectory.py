"""Run-to-failure trajectories: operating conditions, per-condition normalisation, window features.

Multi-condition fleets (C-MAPSS FD002/FD004: six flight conditions) show sensor jumps that
come from the operating point, not from wear. :class:`OperatingConditions` finds the discrete
operating points in the setting columns with k-means (the smallest ``k`` that explains almost
all of their spread; one condition when no ``k`` does), and :class:`ConditionScaler` z-scores
every sensor within its condition.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> centres = np.array([[0.0, 0.0, 100.0], [20.0, 0.7, 100.0], [42.0, 0.84, 60.0]])
>>> S = centres[rng.integers(0, 3, 600)] + rng.normal(0, 0.003, (600, 3))
>>> OperatingConditions().fit(S).k
3
>>> OperatingConditions().fit(rng.normal(0, 0.003, (600, 3))).k
1
"""

from __future__ import annotations

import itertools
import logging

import numpy as np

log = logging.getLogger(__name__)


class OperatingConditions:
    """Discrete operating points of the setting columns, found by k-means.

    ``k`` is the smallest number of clusters whose within-cluster sum of squares is below
    ``tol`` times the total (columns standardised first); if none up to ``max_k`` is, the
    settings are noise around one operating point and ``k = 1``.
    """

    def __init__(self, max_k: int = 10, tol: float = 1e-3, seed: int = 0) -> None:
        self.max_k = max_k
        self.tol = tol
        self.seed = seed
        self.k = 1
        self._centres = np.zeros((1, 0))
        self._mu = np.zeros(0)
        self._sd = np.ones(0)

    def fit(self, settings: np.ndarray) -> OperatingConditions:
        """Find the operating points of ``settings`` (rows = cycles, columns = settings)."""
        S = np.atleast_2d(np.asarray(settings, dtype=float))
        self._mu = S.mean(axis=0)
        sd = S.std(axis=0)
        self._sd = np.where(sd > 0, sd, 1.0)
        Z = (S - self._mu) / self._sd
        total = float(np.sum(Z**2))
        self.k, self._centres = 1, Z.mean(axis=0, keepdims=True)
        if total <= 0 or len(Z) < 2:
            return self
        from sklearn.cluster import KMeans
        from threadpoolctl import threadpool_limits

        sub = Z[np.random.default_rng(self.seed).permutation(len(Z))[:20000]]
        total_sub = float(np.sum((sub - sub.mean(axis=0)) ** 2))
        with threadpool_limits(1):
            for k in range(2, min(self.max_k, len(sub) - 1) + 1):
                km = KMeans(n_clusters=k, n_init=3, random_state=self.seed).fit(sub)
                if km.inertia_ <= self.tol * total_sub:
                    self.k, self._centres = k, km.cluster_centers_
                    break
        log.info("operating conditions: %d", self.k)
        return self

    def predict(self, settings: np.ndarray) -> np.ndarray:
        """Index of the nearest operating point for each row."""
        Z = (np.atleast_2d(np.asarray(settings, dtype=float)) - self._mu) / self._sd
        d = ((Z[:, None, :] - self._centres[None, :, :]) ** 2).sum(axis=2)
        return d.argmin(axis=1)


class ConditionScaler:
    """Z-score each sensor within its operating condition; constant sensors are dropped."""

    def __init__(self, min_std: float = 1e-8) -> None:
        self.min_std = min_std
        self.keep = np.zeros(0, dtype=bool)
        self._mu = np.zeros((1, 0))
        self._sd = np.ones((1, 0))

    def fit(self, X: np.ndarray, cond: np.ndarray, k: int) -> ConditionScaler:
        """Learn per-condition means and standard deviations of ``X``."""
        X = np.asarray(X, dtype=float)
        mu = np.tile(X.mean(axis=0), (k, 1))
        sd = np.tile(X.std(axis=0), (k, 1))
        for c in range(k):
            rows = X[cond == c]
            if len(rows) > 1:
                mu[c], sd[c] = rows.mean(axis=0), rows.std(axis=0)
        scale = np.abs(mu).max(axis=0) + 1.0
        self.keep = np.all(sd > self.min_std * scale, axis=0)
        self._mu, self._sd = mu[:, self.keep], sd[:, self.keep]
        return self

    def transform(self, X: np.ndarray, cond: np.ndarray) -> np.ndarray:
        """Per-condition z-scores of the kept sensors."""
        X = np.asarray(X, dtype=float)[:, self.keep]
        return (X - self._mu[cond]) / self._sd[cond]


def _rolling(y: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing mean and least-squares slope over the last ``min(t + 1, w)`` rows, per column."""
    n_rows = len(y)
    t = np.arange(n_rows, dtype=float)[:, None]
    c0 = np.concatenate([[0.0], np.ones(n_rows)]).cumsum()[:, None]
    cy = np.vstack([np.zeros((1, y.shape[1])), y]).cumsum(axis=0)
    cty = np.vstack([np.zeros((1, y.shape[1])), t * y]).cumsum(axis=0)
    ct = np.concatenate([[0.0], t[:, 0]]).cumsum()[:, None]
    ctt = np.concatenate([[0.0], t[:, 0] ** 2]).cumsum()[:, None]
    end = np.arange(1, n_rows + 1)
    start = np.maximum(end - w, 0)
    n = c0[end] - c0[start]
    sy, sty = cy[end] - cy[start], cty[end] - cty[start]
    st, stt = ct[end] - ct[start], ctt[end] - ctt[start]
    mean = sy / n
    den = n * stt - st**2
    slope = np.where(den > 0, (n * sty - st * sy) / np.where(den > 0, den, 1.0), 0.0)
    return mean, slope


def _ewma(y: np.ndarray, alpha: float) -> np.ndarray:
    out = np.empty_like(y)
    acc = y[0].copy()
    for i, row in enumerate(y):
        acc = acc + alpha * (row - acc) if i else acc
        out[i] = acc
    return out


def window_features(
    units: np.ndarray, Z: np.ndarray, cond: np.ndarray | None = None, k: int = 1, window: int = 30
) -> np.ndarray:
    """Causal features at every cycle of every unit (rows ordered by unit, then cycle).

    Per sensor: trailing means over ``window`` and ``window // 3`` cycles, slopes over the same
    spans, an EWMA, and the drift of the short mean from the unit's first cycles; then the age
    in cycles and, for several operating conditions, the share of cycles spent in each.
    """
    units = np.asarray(units)
    blocks = []
    for u in _unit_slices(units):
        y = Z[u]
        m_long, s_long = _rolling(y, window)
        m_short, s_short = _rolling(y, max(window // 3, 2))
        base = (
            np.cumsum(y, axis=0)[np.minimum(np.arange(len(y)), window - 1)]
            / np.minimum(np.arange(1, len(y) + 1), window)[:, None]
        )
        age = np.arange(1, len(y) + 1, dtype=float)[:, None]
        parts = [m_long, m_short, s_long, s_short, _ewma(y, 0.1), m_short - base, age]
        if cond is not None and k > 1:
            onehot = np.eye(k)[cond[u]]
            parts.append(np.cumsum(onehot, axis=0) / age)
        blocks.append(np.hstack(parts))
    return np.vstack(blocks) if blocks else np.zeros((0, 0))


def _unit_slices(units: np.ndarray) -> list[slice]:
    """Contiguous row ranges of each unit (rows must be grouped by unit)."""
    if not len(units):
        return []
    cut = np.flatnonzero(units[1:] != units[:-1]) + 1
    edges = [0, *cut.tolist(), len(units)]
    return [slice(a, b) for a, b in itertools.pairwise(edges)]


def last_rows(units: np.ndarray) -> np.ndarray:
    """Index of the last row of each unit."""
    return np.array([s.stop - 1 for s in _unit_slices(np.asarray(units))], dtype=int)
