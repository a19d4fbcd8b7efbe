"""Anomaly detection for sensor streams (pure compute, river's shape).

Detectors
    :class:`RobustZ`      univariate, seasonality-aware median/MAD baseline (online)
    :class:`Likelihood`   univariate streaming detector with an anomaly-likelihood output in [0, 1]
    :class:`RangeNovelty` univariate: new extremes of value, seasonal change and spread, reported once
    :class:`PCA`          multivariate T² + Q (SPE) model of normal operation
    :class:`MEWMA`        multivariate EWMA chart for small, lasting shifts (default multivariate)
    :class:`IsolationForest`  learned, isolation-based model (numpy only)
Thresholds and alarms
    :func:`pot_threshold` / :class:`SPOT`  extreme-value (peaks over threshold) limits without labels
    :func:`cv_limit`      out-of-sample control limits by blocked cross-validation
    :class:`Alarm`        persistence and hysteresis
"""

from .alarm import Alarm
from .forest import IsolationForest
from .mewma import MEWMA, wander_ratio
from .novelty import RangeNovelty
from .pca import PCA
from .threshold import SPOT, cv_limit, pot_threshold
from .univariate import Likelihood, RobustZ

__all__ = [
    "MEWMA",
    "PCA",
    "SPOT",
    "Alarm",
    "IsolationForest",
    "Likelihood",
    "RangeNovelty",
    "RobustZ",
    "cv_limit",
    "pot_threshold",
    "wander_ratio",
]
