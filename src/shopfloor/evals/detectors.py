"""The detectors each suite runs: thin glue from suite data to :mod:`shopfloor.analytics.anomaly`.

No parameter here depends on a file: every choice is made once per suite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from shopfloor.analytics.anomaly import (
    MEWMA,
    PCA,
    Alarm,
    IsolationForest,
    Likelihood,
    RangeNovelty,
    cv_limit,
    pot_threshold,
)
from shopfloor.core.errors import ConfigError


def skab_alarms(train: np.ndarray, test: np.ndarray, detector: str = "default") -> np.ndarray:
    """Alarm flags for the test part of one SKAB experiment, trained on its first rows."""
    if detector in ("default", "mewma"):
        det = MEWMA(alpha=0.1, wander_max=20.0).fit(train)
        return Alarm(on=2.0, off=1.5, delay=10).run(det.score_many(test))
    if detector == "pca":
        return PCA(variance=0.9, quantile=0.99).fit(train).score_many(test) > 1.0
    if detector == "forest":
        forest = IsolationForest(trees=100, seed=0).fit(train)
        limit = float(np.quantile(forest.score_many(train), 0.99))
        return forest.score_many(test) > limit
    raise ConfigError(f"unknown SKAB detector {detector!r}: choose default, mewma, pca or forest")


def samples_per_day(times: np.ndarray) -> int | None:
    """Samples per day when the median sampling step divides a day into at least 24, else None.

    >>> samples_per_day(np.arange(0, 86400 * 3, 300).astype("datetime64[s]"))
    288
    """
    if len(times) < 3:
        return None
    step = int(np.median(np.diff(np.asarray(times, dtype="datetime64[s]").astype(np.int64))))
    if step <= 0 or 86400 % step or 86400 // step < 24:
        return None
    return 86400 // step


def nab_scores(values: np.ndarray, times: np.ndarray, detector: str = "default") -> np.ndarray:
    """Online anomaly scores in [0, 1] for one NAB series.

    NAB hands each detector the file's probationary period; the refractory time of
    :class:`RangeNovelty` is half of it, its season one day of samples.
    """
    if detector in ("default", "novelty"):
        probation = max(1, int(min(0.15 * len(values), 750)))
        det: RangeNovelty | Likelihood = RangeNovelty(
            period=samples_per_day(times), spread=12, level=24, refractory=probation // 2
        )
    elif detector == "likelihood":
        det = Likelihood()
    else:
        raise ConfigError(f"unknown NAB detector {detector!r}: choose default, novelty or likelihood")
    return np.array([det.learn_one(float(v)) for v in values])


def _tep_factory(detector: str) -> Callable[[], MEWMA | PCA | IsolationForest]:
    if detector in ("default", "mewma"):
        return lambda: MEWMA(alpha=0.5, wander_max=None, warmup=10)
    if detector == "pca":
        return lambda: PCA(variance=0.9, quantile=0.99)
    if detector == "forest":
        return lambda: IsolationForest(trees=100, seed=0)
    raise ConfigError(f"unknown TEP detector {detector!r}: choose default, mewma, pca or forest")


@dataclass
class TepModel:
    """A fitted TEP model with its control limit and the held-out false alarm rate at it."""

    detector: MEWMA | PCA | IsolationForest
    limit: float
    held_out_far: float


def tep_fit(normal: np.ndarray, detector: str = "default") -> TepModel:
    """Model of TEP normal operation and its 1 % control limit, set without labels.

    Scores of normal operation are taken out of sample (5-fold blocked cross-validation),
    and the limit is the score a GPD tail fitted to their top 10 % exceeds with
    probability 1 % (peaks over threshold).
    """
    make = _tep_factory(detector)
    _, held = cv_limit(make, normal, quantile=0.99, folds=5)
    limit = pot_threshold(held, risk=0.01, level=0.9)
    return TepModel(make().fit(normal), limit, float((held > limit).mean()))


def tep_alarms(model: TepModel, X: np.ndarray) -> np.ndarray:
    """Alarm flags for one TEP run (each run starts a fresh smoothing state)."""
    if isinstance(model.detector, MEWMA):
        model.detector.reset()
    return model.detector.score_many(X) > model.limit
