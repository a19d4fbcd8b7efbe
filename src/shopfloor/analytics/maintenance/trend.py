"""Remaining useful life from a degradation trend, with an interval (river's shape).

Wear shows as an anomaly score that grows roughly exponentially once a part starts to degrade
(bearing spall growth, blade dulling). :class:`DegradationTrend` fits a straight line to the
logarithm of the score against time over the recent points above ``floor`` and extrapolates it to
``failure_level``: the RUL is the time left until the fitted score reaches that level. The
interval comes from the fit's uncertainty (slope and level, by the delta method; ``z`` = 1.645:
a nominal 90 % interval);
it is wide when the trend is noisy or short, which is the honest answer. No estimate (None)
while the score is not growing or fewer than ``min_points`` points are above ``floor``.

>>> import math
>>> trend = DegradationTrend(failure_level=100.0, min_points=5)
>>> for h in range(20):
...     _ = trend.learn_one(h * 3600.0, math.exp(0.2 * h))   # the score grows 22 % an hour
>>> rul, lo, hi = trend.predict_one()
>>> round(rul / 3600, 1)                                   # ln(100) / 0.2 - 19 hours
4.0
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np


class DegradationTrend:
    def __init__(
        self,
        failure_level: float = 50.0,
        floor: float = 1.0,
        window: int = 720,
        min_points: int = 30,
        z: float = 1.645,
        max_rul_s: float = 60 * 86_400.0,
    ) -> None:
        if failure_level <= floor:
            raise ValueError("failure_level must be above floor")
        self.failure_level = failure_level
        self.floor = floor
        self.window = window
        self.min_points = min_points
        self.z = z
        self.max_rul_s = max_rul_s
        self._t: deque[float] = deque(maxlen=window)
        self._y: deque[float] = deque(maxlen=window)

    def learn_one(self, t_s: float, score: float) -> DegradationTrend:
        """Add the score at time ``t_s`` (seconds); points at or below ``floor`` reset the trend."""
        if not math.isfinite(score) or score <= self.floor:
            self._t.clear()
            self._y.clear()
            return self
        self._t.append(float(t_s))
        self._y.append(math.log(score))
        return self

    def reset(self) -> None:
        self._t.clear()
        self._y.clear()

    def predict_one(self) -> tuple[float, float, float] | None:
        """``(rul, low, high)`` in seconds from the last point, or None (no growing trend)."""
        n = len(self._t)
        if n < self.min_points:
            return None
        t = np.asarray(self._t) - self._t[-1]
        y = np.asarray(self._y)
        tm, ym = t.mean(), y.mean()
        sxx = float(((t - tm) ** 2).sum())
        if sxx <= 0:
            return None
        slope = float(((t - tm) * (y - ym)).sum() / sxx)
        if slope <= 0:
            return None
        now = ym - slope * tm  # fitted log score at the last point (t = 0)
        resid = y - (now + slope * t)
        s2 = float((resid**2).sum()) / max(1, n - 2)
        # smoothed scores are autocorrelated: fewer independent points than n (AR(1) inflation)
        rho = float((resid[1:] * resid[:-1]).sum() / max(float((resid**2).sum()), 1e-300))
        if 0 < rho < 0.99:
            s2 *= (1 + rho) / (1 - rho)
        var_b = s2 / sxx
        var_a = s2 * (1.0 / n + tm * tm / sxx)  # the fitted value at t = 0, the edge of the data
        cov_ab = -s2 * tm / sxx
        gap = math.log(self.failure_level) - now
        rul = gap / slope
        # delta method: dR/da = -1/b, dR/db = -gap/b^2
        var_r = var_a / slope**2 + gap * gap * var_b / slope**4 + 2.0 * gap * cov_ab / slope**3
        sd = math.sqrt(max(var_r, 0.0))
        cap = self.max_rul_s
        return (
            float(min(cap, max(0.0, rul))),
            float(min(cap, max(0.0, rul - self.z * sd))),
            float(min(cap, max(0.0, rul + self.z * sd))),
        )
