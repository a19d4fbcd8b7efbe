"""Failure prediction from machine operating data (tabular), with physics-informed features.

The raw inputs of a machining process (air and process temperature, spindle speed, torque,
tool wear, product quality grade) are extended with the quantities that failure physics
depends on: mechanical power (torque x angular speed), the heat-dissipation temperature
difference, and tool strain (wear x torque).

>>> import numpy as np
>>> X = np.array([[0, 300.0, 310.0, 1500.0, 40.0, 100.0]])
>>> f = physics_features(X)
>>> round(float(f[0, -3])), float(f[0, -2]), float(f[0, -1])
(6283, 10.0, 4000.0)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Column order expected by :func:`physics_features`.
COLUMNS = ("grade", "air_temperature_k", "process_temperature_k", "speed_rpm", "torque_nm", "tool_wear_min")


def physics_features(X: np.ndarray) -> np.ndarray:
    """Append power (W), temperature difference (K) and strain (min x Nm) to :data:`COLUMNS` rows."""
    X = np.atleast_2d(np.asarray(X, dtype=float))
    power = X[:, 4] * X[:, 3] * 2 * np.pi / 60.0
    dtemp = X[:, 2] - X[:, 1]
    strain = X[:, 5] * X[:, 4]
    return np.column_stack([X, power, dtemp, strain])


class FailureClassifier:
    """Gradient-boosted trees on :func:`physics_features`; binary or multi-class labels.

    ``fit(X, y)`` / ``predict_proba(X)`` / ``predict(X)`` / ``predict_one(x)``; ``X`` columns as in
    :data:`COLUMNS`, the grade coded as a number (L/M/H = 0/1/2).
    """

    def __init__(
        self,
        iterations: int = 150,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        class_weight: str | None = None,
        threads: int | None = 1,
        seed: int = 0,
    ) -> None:
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.class_weight = class_weight
        self.threads = threads
        self.seed = seed
        self._model: Any = None
        self.classes_: np.ndarray = np.zeros(0)

    def fit(self, X: np.ndarray, y: Sequence[int] | np.ndarray) -> FailureClassifier:
        """Learn from rows ``X`` and labels ``y``."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits

        model = HistGradientBoostingClassifier(
            max_iter=self.iterations,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            class_weight=self.class_weight,
            l2_regularization=1.0,
            categorical_features=[0],
            random_state=self.seed,
        )
        with threadpool_limits(self.threads):
            self._model = model.fit(physics_features(X), np.asarray(y))
        self.classes_ = self._model.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        if self._model is None:
            raise RuntimeError("FailureClassifier.predict before fit")
        from threadpoolctl import threadpool_limits

        with threadpool_limits(self.threads):
            return self._model.predict_proba(physics_features(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable class per row."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def predict_one(self, x: Sequence[float]) -> int | str:
        """Most probable class of one row."""
        return self.predict(np.asarray(x, dtype=float)[None, :])[0].item()
