"""Remaining useful life from run-to-failure trajectories, with prediction intervals.

:class:`RULRegressor` normalises the sensors per operating condition, builds causal window
features at every cycle (see :mod:`.trajectory`) and fits gradient-boosted trees to the
piecewise-linear target ``min(RUL, cap)``. Prediction intervals are split-conformal on
out-of-fold residuals from unit-wise folds, Mondrian by the predicted RUL (the error grows
with the remaining life), so they carry a finite-sample coverage guarantee for new units.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> units, sensors, rul = [], [], []
>>> for u in range(30):
...     life = int(rng.integers(120, 200))
...     wear = np.exp(np.arange(life) / life * 3) / 20
...     units += [u] * life
...     sensors.append(wear[:, None] + rng.normal(0, 0.05, (life, 2)))
...     rul += list(range(life - 1, -1, -1))
>>> S = np.zeros((len(units), 1))
>>> m = RULRegressor(folds=3, iterations=60).fit(np.array(units), S, np.vstack(sensors), np.array(rul))
>>> p = m.predict(np.array(units), S, np.vstack(sensors))
>>> bool(np.sqrt(np.mean((p - np.minimum(rul, 125)) ** 2)) < 25)
True
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .trajectory import ConditionScaler, OperatingConditions, window_features

log = logging.getLogger(__name__)


class RULRegressor:
    """Gradient-boosted RUL regressor on per-condition normalised window features.

    Inputs are per-cycle rows grouped by unit and ordered by cycle: ``units`` (ids), ``settings``
    (operating settings, may have zero columns) and ``sensors``. ``cap`` is the piecewise-linear
    target's ceiling (125 cycles, Li et al. 2018); ``folds`` unit-wise folds give the
    out-of-fold residuals for the intervals; ``bins`` Mondrian bins of predicted RUL; ``threads``
    caps the native thread pools (one thread wastes the least CPU on a shared machine).
    """

    def __init__(
        self,
        cap: float = 125.0,
        window: int = 30,
        iterations: int = 400,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        folds: int = 5,
        bins: int = 5,
        threads: int | None = 1,
        seed: int = 0,
    ) -> None:
        self.cap = cap
        self.window = window
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.folds = folds
        self.bins = bins
        self.threads = threads
        self.seed = seed
        self.conditions = OperatingConditions(seed=seed)
        self.scaler = ConditionScaler()
        self._model: Any = None
        self._edges = np.zeros(0)
        self._residuals: list[np.ndarray] = []

    def _new(self):
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            max_iter=self.iterations,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=40,
            l2_regularization=1.0,
            random_state=self.seed,
        )

    def _features(self, units: np.ndarray, settings: np.ndarray, sensors: np.ndarray) -> np.ndarray:
        cond = self.conditions.predict(settings)
        Z = self.scaler.transform(sensors, cond)
        return window_features(units, Z, cond, self.conditions.k, self.window)

    def fit(
        self, units: np.ndarray, settings: np.ndarray, sensors: np.ndarray, rul: np.ndarray
    ) -> RULRegressor:
        """Learn from run-to-failure (or censored) trajectories with known ``rul`` per row."""
        units = np.asarray(units)
        settings = np.asarray(settings, dtype=float).reshape(len(units), -1)
        self.conditions.fit(settings) if settings.shape[1] else None
        cond = self.conditions.predict(settings) if settings.shape[1] else np.zeros(len(units), int)
        self.scaler.fit(sensors, cond, self.conditions.k)
        F = self._features(units, settings, sensors)
        y = np.minimum(np.asarray(rul, dtype=float), self.cap)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(self.threads):
            oof = self._out_of_fold(units, F, y)
            self._model = self._new().fit(F, y)
        self._calibrate(oof, y)
        return self

    def _out_of_fold(self, units: np.ndarray, F: np.ndarray, y: np.ndarray) -> np.ndarray:
        ids = np.unique(units)
        rng = np.random.default_rng(self.seed)
        fold_of = dict(zip(rng.permutation(ids).tolist(), np.arange(len(ids)) % self.folds, strict=True))
        fold = np.array([fold_of[u] for u in units.tolist()])
        oof = np.zeros(len(y))
        for f in range(self.folds):
            test = fold == f
            oof[test] = self._new().fit(F[~test], y[~test]).predict(F[test])
        return oof

    def _calibrate(self, pred: np.ndarray, y: np.ndarray) -> None:
        self._edges = np.quantile(pred, np.linspace(0, 1, self.bins + 1)[1:-1])
        b = np.searchsorted(self._edges, pred)
        self._residuals = [np.sort(y[b == i] - pred[b == i]) for i in range(self.bins)]

    def predict(self, units: np.ndarray, settings: np.ndarray, sensors: np.ndarray) -> np.ndarray:
        """Predicted RUL (cycles, in ``[0, cap]``) at every row."""
        if self._model is None:
            raise RuntimeError("RULRegressor.predict before fit")
        units = np.asarray(units)
        settings = np.asarray(settings, dtype=float).reshape(len(units), -1)
        F = self._features(units, settings, sensors)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(self.threads):
            return np.clip(self._model.predict(F), 0.0, self.cap)

    def predict_interval(
        self, units: np.ndarray, settings: np.ndarray, sensors: np.ndarray, alpha: float = 0.1
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Point prediction and a ``1 - alpha`` conformal interval ``(pred, lo, hi)`` at every row."""
        pred = self.predict(units, settings, sensors)
        b = np.searchsorted(self._edges, pred)
        lo, hi = np.empty_like(pred), np.empty_like(pred)
        for i, res in enumerate(self._residuals):
            n = len(res)
            if not n:
                continue
            qlo = res[max(int(np.floor((n + 1) * alpha / 2)) - 1, 0)]
            qhi = res[min(int(np.ceil((n + 1) * (1 - alpha / 2))) - 1, n - 1)]
            lo[b == i], hi[b == i] = pred[b == i] + qlo, pred[b == i] + qhi
        return pred, np.clip(lo, 0.0, None), np.clip(hi, None, self.cap)
