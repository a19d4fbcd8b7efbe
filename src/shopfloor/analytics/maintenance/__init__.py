"""Predictive maintenance: remaining useful life, vibration health, fault classification.

RUL
    :class:`RULRegressor`          per-condition normalised window features, boosted trees,
                                   conformal prediction intervals
    :class:`OperatingConditions`   discrete operating points of the setting columns
Scores
    :func:`rmse`, :func:`phm08_score`, :func:`coverage`, :func:`macro_f1`
"""

from .metrics import coverage, macro_f1, phm08_score, rmse
from .rul import RULRegressor
from .trajectory import ConditionScaler, OperatingConditions, last_rows, window_features

__all__ = [
    "ConditionScaler",
    "OperatingConditions",
    "RULRegressor",
    "coverage",
    "last_rows",
    "macro_f1",
    "phm08_score",
    "rmse",
    "window_features",
]
