"""Failure forecast for the installed base: expected returns per month, with bounds.

Each unit in service has survived to its current ``age`` (in the model's life unit) and
accrues ``rate`` life units per month. Its chance of failing in month ``k`` is the
conditional probability ``(S(a + (k-1) r) - S(a + k r)) / S(a)``. The expected count is the
sum over units; the bounds combine the randomness of which units fail with the uncertainty
of the fitted parameters (drawn from their asymptotic normal distribution), by simulation.

>>> from shopfloor.analytics.fleet.models import fit_life
>>> m = fit_life([100.0, 150.0, 200.0, 260.0, 320.0], family="weibull")
>>> fc = forecast_returns(m, ages=[50.0] * 100, rates=[30.0] * 100, months=3, seed=1)
>>> len(fc.expected), fc.lower[0] <= fc.expected[0] <= fc.upper[0]
(3, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .models import LifeModel
from .survival import LifeDataError


@dataclass(slots=True)
class ReturnsForecast:
    """Returns per future month: expected count and a two-sided interval."""

    expected: list[float]
    lower: list[float]
    upper: list[float]
    cumulative: list[float]
    units: int
    conf: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def forecast_returns(
    model: LifeModel,
    ages: Sequence[float] | np.ndarray,
    rates: Sequence[float] | np.ndarray | float,
    months: int = 12,
    conf: float = 0.90,
    draws: int = 400,
    seed: int = 0,
) -> ReturnsForecast:
    """Forecast failures per month of the surviving units (ages and monthly rates per unit)."""
    a = np.asarray(ages, dtype=float)
    r = np.broadcast_to(np.asarray(rates, dtype=float), a.shape)
    if a.ndim != 1 or np.any(~np.isfinite(a)) or np.any(a < 0):
        raise LifeDataError("ages must be a 1-D array of non-negative numbers")
    if np.any(~np.isfinite(r)) or np.any(r <= 0):
        raise LifeDataError("rates (life units per month) must be positive")
    if months < 1:
        raise LifeDataError(f"months must be at least 1, got {months}")
    edges = a[:, None] + r[:, None] * np.arange(months + 1)[None, :]

    def probs(m: LifeModel) -> np.ndarray:
        s = m.sf(edges)
        s0 = np.clip(s[:, :1], 1e-300, None)
        return (s[:, :-1] - s[:, 1:]) / s0  # units x months

    expected = probs(model).sum(axis=0)
    rng = np.random.default_rng(seed)
    sims = np.empty((draws, months))
    models = model.sample_params(rng, draws) if np.all(np.isfinite(model.cov)) else [model] * draws
    for i, m in enumerate(models):
        p = probs(m)
        # which month (if any) each unit fails in: one categorical draw per unit
        cum = np.cumsum(p, axis=1)
        u = rng.random(a.size)[:, None]
        month = (u >= cum).sum(axis=1)  # == months when the unit survives the horizon
        sims[i] = np.bincount(month, minlength=months + 1)[:months]
    q = (1 - conf) / 2
    return ReturnsForecast(
        expected=expected.tolist(),
        lower=np.quantile(sims, q, axis=0).tolist(),
        upper=np.quantile(sims, 1 - q, axis=0).tolist(),
        cumulative=np.cumsum(expected).tolist(),
        units=int(a.size),
        conf=conf,
    )
