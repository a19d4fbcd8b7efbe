"""Vibration fault classification: non-overlapping segments -> features -> tree ensemble.

Training records can be augmented by *speed perturbation* (:func:`stretch`): the signal is
resampled so that it plays as if the shaft ran a few per cent slower or faster, which teaches the
classifier that the fault signature, not the exact line or band positions, carries the class;
it is what lets a model trained at one load recognise the faults at another (other speed).

>>> import numpy as np
>>> segments(np.arange(10.0), 4).tolist()
[[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from .features import SKF_6205, Bearing, segment_features

log = logging.getLogger(__name__)


def segments(x: np.ndarray, length: int) -> np.ndarray:
    """Cut ``x`` into consecutive, non-overlapping segments of ``length`` samples (rest dropped)."""
    x = np.asarray(x, dtype=float).ravel()
    n = len(x) // length
    return x[: n * length].reshape(n, length)


def stretch(x: np.ndarray, factor: float) -> np.ndarray:
    """Resample ``x`` to ``factor`` times its length: the same record at ``1 / factor`` the speed.

    >>> len(stretch(np.zeros(1000), 1.02))
    1020
    """
    from fractions import Fraction

    from scipy.signal import resample_poly

    if factor == 1.0:
        return np.asarray(x, dtype=float)
    q = Fraction(factor).limit_denominator(1000)
    return resample_poly(np.asarray(x, dtype=float), q.numerator, q.denominator)


def training_features(
    x: np.ndarray,
    length: int,
    fs: float,
    shaft_hz: float,
    factors: Sequence[float] = (0.98, 1.0, 1.02),
    bearing: Bearing = SKF_6205,
) -> np.ndarray:
    """Features of the non-overlapping segments of ``x`` and of its speed-perturbed copies."""
    return np.vstack(
        [feature_matrix(segments(stretch(x, f), length), fs, shaft_hz / f, bearing) for f in factors]
    )


def feature_matrix(segs: np.ndarray, fs: float, shaft_hz: float, bearing: Bearing = SKF_6205) -> np.ndarray:
    """:func:`segment_features` for every row of ``segs``."""
    return np.vstack([segment_features(s, fs, shaft_hz, bearing) for s in segs])


class FaultClassifier:
    """Extremely randomised trees on standardised segment features (scikit-learn).

    Per-record feature standardisation is left to the caller; the model itself is a plain
    ``fit(F, y)`` / ``predict(F)`` / ``predict_one(f)`` classifier with class probabilities.
    """

    def __init__(self, trees: int = 300, max_features: str | float = "sqrt", seed: int = 0) -> None:
        self.trees = trees
        self.max_features = max_features
        self.seed = seed
        self._model: Any = None
        self.classes_: np.ndarray = np.zeros(0)

    def fit(self, F: np.ndarray, y: Sequence[str] | np.ndarray) -> FaultClassifier:
        """Learn from feature rows ``F`` and their labels ``y``."""
        from sklearn.ensemble import ExtraTreesClassifier

        self._model = ExtraTreesClassifier(
            n_estimators=self.trees, max_features=self.max_features, random_state=self.seed, n_jobs=1
        ).fit(np.asarray(F, dtype=float), np.asarray(y))
        self.classes_ = self._model.classes_
        return self

    def predict_proba(self, F: np.ndarray) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        if self._model is None:
            raise RuntimeError("FaultClassifier.predict before fit")
        return self._model.predict_proba(np.atleast_2d(np.asarray(F, dtype=float)))

    def predict(self, F: np.ndarray) -> np.ndarray:
        """Most probable class per row."""
        return self.classes_[self.predict_proba(F).argmax(axis=1)]

    def predict_one(self, f: Sequence[float]) -> str:
        """Most probable class of one feature vector."""
        return str(self.predict(np.asarray(f, dtype=float)[None, :])[0])
