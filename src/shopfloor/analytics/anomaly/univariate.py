"""Univariate streaming detectors.

:class:`RobustZ` scores a value by its distance from the median of a sliding window
in units of the window's MAD; with ``period`` set it compares against the values at
the same phase of earlier periods too (seasonality-aware).

:class:`Likelihood` turns such raw scores into an *anomaly likelihood* in [0, 1]
(Ahmad et al., 2017): how unusual is the recent average raw score compared with the
raw scores of the long past. A burst of surprise after a calm period scores near 1;
a stream that is always noisy does not.

>>> det = RobustZ(window=50)
>>> for v in [10.0, 10.2, 9.9, 10.1] * 20:
...     _ = det.learn_one(v)
>>> det.score_one(10.0) < 2 < det.score_one(13.0)
True
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

_MAD = 1.4826


class RobustZ:
    """``|x - median| / MAD`` over the last ``window`` values (and same-phase values)."""

    def __init__(self, window: int = 200, period: int | None = None, periods: int = 4) -> None:
        self.window = window
        self.period = period
        self.periods = periods
        self._recent: deque[float] = deque(maxlen=window)
        self._history: deque[float] = deque(maxlen=(period or 0) * periods + 1)
        self._floor = 0.0

    def learn_one(self, x: float) -> RobustZ:
        self._recent.append(float(x))
        if self.period:
            self._history.append(float(x))
        return self

    def score_one(self, x: float) -> float:
        if len(self._recent) < 5:
            return 0.0
        ref = np.fromiter(self._recent, float)
        z = self._z(float(x), ref)
        if self.period and len(self._history) > self.period:
            h = np.fromiter(self._history, float)
            same = h[len(h) - self.period :: -self.period]
            near = np.concatenate(
                [h[max(i - 2, 0) : i + 3] for i in range(len(h) - self.period, -1, -self.period)]
            )
            if len(same):
                z = min(z, self._z(float(x), near))
        return z

    def _z(self, x: float, ref: np.ndarray) -> float:
        med = float(np.median(ref))
        mad = float(np.median(np.abs(ref - med))) * _MAD
        spread = max(mad, 0.05 * float(np.std(ref)), 1e-9 * (abs(med) + 1.0))
        return abs(x - med) / spread


def _q(z: float) -> float:
    """Gaussian tail probability P(Z > z)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


class Likelihood:
    """Anomaly likelihood in [0, 1] over raw :class:`RobustZ` scores.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = Likelihood(long=400)
    >>> xs = list(rng.normal(size=1000)) + [8.0] * 5
    >>> ys = [det.learn_one(x) for x in xs]
    >>> max(ys[500:1000]) < 0.9 < max(ys[1000:])
    True
    """

    def __init__(
        self, window: int = 200, short: int = 10, long: int = 2000, period: int | None = None
    ) -> None:
        self.short = short
        self.long = long
        self.raw = RobustZ(window=window, period=period)
        self._raw: deque[float] = deque(maxlen=long)
        self._short: deque[float] = deque(maxlen=short)

    def score_one(self, x: float) -> float:
        """Likelihood of ``x`` given the past, without learning it."""
        r = math.log1p(self.raw.score_one(x))
        return self._likelihood(r, update=False)

    def learn_one(self, x: float) -> float:
        """Score ``x``, learn it, and return the likelihood (streaming use)."""
        r = math.log1p(self.raw.score_one(x))
        self.raw.learn_one(x)
        return self._likelihood(r, update=True)

    def _likelihood(self, r: float, update: bool) -> float:
        short = [*self._short, r][-self.short :]
        m = sum(short) / len(short)
        if len(self._raw) < 50:
            out = 0.5
        else:
            hist = np.fromiter(self._raw, float)
            mu, sd = float(hist.mean()), max(float(hist.std()), 1e-3)
            out = 1.0 - _q((m - mu) / sd)
        if update:
            self._short.append(r)
            self._raw.append(r)
        return out
