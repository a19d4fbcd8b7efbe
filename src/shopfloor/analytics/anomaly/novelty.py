"""Range novelty: a streaming univariate detector that reports new extremes, once.

Many anomalies in machine and IT data are *new*: a value, a day-over-day change, a
short-term spread or a sustained level the stream has never shown before. For each of
four channels, the value itself, its seasonal difference ``x[t] - x[t - period]`` (when
a period is given), its rolling standard deviation over ``spread`` samples and its
rolling mean over ``level`` samples, the score is
how far the channel goes beyond the range it has covered so far, relative to that
range; the channels' maximum is squashed into [0, 1). A score is reported only if
it beats every raw score of the last ``refractory`` samples, so a lasting anomaly
gives one early report rather than a train of repeats (what alarm floods and the
NAB cost model both punish).

>>> det = RangeNovelty(refractory=10)
>>> out = [det.learn_one(v) for v in [1.0, 2.0, 1.5, 1.2, 1.8] * 10 + [4.0, 4.1]]
>>> out[-2] > 0.9, out[-1]
(True, 0.0)
"""

from __future__ import annotations

import math
from collections import deque


class _Range:
    """Range of a channel so far; ``novelty`` is the excess of a new value over it."""

    __slots__ = ("hi", "lo", "n")

    def __init__(self) -> None:
        self.lo = math.inf
        self.hi = -math.inf
        self.n = 0

    def novelty(self, x: float) -> float:
        if self.n < 2:
            return 0.0
        width = max(self.hi - self.lo, 1e-9 * (abs(self.hi) + 1.0))
        return max(0.0, x - self.hi, self.lo - x) / width

    def add(self, x: float) -> None:
        self.lo = min(self.lo, x)
        self.hi = max(self.hi, x)
        self.n += 1


class RangeNovelty:
    """Streaming detector over value, seasonal difference, rolling spread and rolling level."""

    def __init__(
        self,
        period: int | None = None,
        spread: int = 12,
        level: int | None = 24,
        refractory: int = 300,
        gain: float = 5.0,
    ) -> None:
        self.period = period if period and period > 1 else None
        self.spread = spread
        self.level = level if level and level > 1 else None
        self.gain = gain
        self._value, self._season, self._std, self._mean = _Range(), _Range(), _Range(), _Range()
        self._lwin: deque[float] = deque(maxlen=self.level or 1)
        self._lsum = 0.0
        self._past: deque[float] = deque(maxlen=self.period or 1)
        self._win: deque[float] = deque(maxlen=spread)
        self._recent: deque[float] = deque(maxlen=max(refractory, 1))

    def _channels(self, x: float) -> tuple[float | None, float | None, float | None]:
        season = x - self._past[0] if self.period and len(self._past) == self.period else None
        std = None
        if len(self._win) >= self.spread - 1:
            w = [*list(self._win)[-(self.spread - 1) :], x]
            m = sum(w) / len(w)
            std = math.sqrt(sum((v - m) ** 2 for v in w) / len(w))
        mean = None
        if self.level and len(self._lwin) >= self.level - 1:
            oldest = self._lwin[0] if len(self._lwin) == self.level else 0.0
            mean = (self._lsum - oldest + x) / self.level
        return season, std, mean

    def _raw(self, x: float) -> tuple[float, tuple[float | None, float | None, float | None]]:
        ch = self._channels(x)
        nov = self._value.novelty(x)
        for rng, value in zip((self._season, self._std, self._mean), ch, strict=True):
            if value is not None:
                nov = max(nov, rng.novelty(value))
        return 1.0 - math.exp(-self.gain * nov), ch

    def score_one(self, x: float) -> float:
        """Score of ``x`` without learning it."""
        s, _ = self._raw(float(x))
        return s if not self._recent or s > max(self._recent) else 0.0

    def learn_one(self, x: float) -> float:
        """Score ``x``, learn it, and return the reported score (streaming use)."""
        x = float(x)
        s, ch = self._raw(x)
        out = s if not self._recent or s > max(self._recent) else 0.0
        self._recent.append(s)
        self._value.add(x)
        for rng, value in zip((self._season, self._std, self._mean), ch, strict=True):
            if value is not None:
                rng.add(value)
        self._past.append(x)
        self._win.append(x)
        if self.level:
            if len(self._lwin) == self.level:
                self._lsum -= self._lwin[0]
            self._lwin.append(x)
            self._lsum += x
        return out
