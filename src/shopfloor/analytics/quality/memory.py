"""Time-weighted charts for small, lasting shifts: EWMA and tabular CUSUM (Montgomery ch. 9).

Both take the in-control mean ``target`` and ``sigma`` (or learn them from the first ``warmup``
values: mean, and the average moving range over ``d2``), stream with ``learn_one(x)`` returning
the violations of that value, and have a history form (:func:`ewma`, :func:`cusum`).

>>> chart = CUSUM(target=10.0, sigma=1.0, k=0.5, h=5.0)
>>> hits = [i for i, x in enumerate([10.0] * 5 + [11.5] * 10) if chart.learn_one(x)]
>>> hits[0]
10
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from shopfloor.core.errors import ConfigError

from .charts import Chart
from .constants import d2
from .rules import Violation


class _Learned:
    def __init__(self, target: float | None, sigma: float | None, warmup: int) -> None:
        if sigma is not None and sigma <= 0:
            raise ConfigError(f"sigma {sigma}: must be positive")
        self.target, self.sigma, self.warmup = target, sigma, warmup
        self._buf: list[float] = []
        self.n = 0

    @property
    def ready(self) -> bool:
        return self.target is not None and self.sigma is not None

    def _warm(self, x: float) -> bool:
        """Collect a warm-up value; True while still warming up."""
        if not math.isfinite(x):
            raise ConfigError(f"value {x!r}: not a finite number")
        if self.ready:
            return False
        self._buf.append(x)
        if len(self._buf) >= max(self.warmup, 3):
            arr = np.asarray(self._buf)
            if self.target is None:
                self.target = float(arr.mean())
            if self.sigma is None:
                self.sigma = max(float(np.abs(np.diff(arr)).mean()) / d2(2), 1e-12)
            self._buf = []
            self.start()
        return True

    def start(self) -> None:
        """(Re)start the statistic at the target."""


class EWMA(_Learned):
    """EWMA chart with exact (time-varying) limits ``target ± L sigma sqrt(λ/(2-λ)(1-(1-λ)^2i))``."""

    def __init__(
        self,
        target: float | None = None,
        sigma: float | None = None,
        lam: float = 0.1,
        L: float = 2.7,
        warmup: int = 20,
    ) -> None:
        if not 0 < lam <= 1:
            raise ConfigError(f"lam {lam}: must be in (0, 1]")
        super().__init__(target, sigma, warmup)
        self.lam, self.L = lam, L
        self.start()

    def start(self) -> None:
        self.z = self.target if self.target is not None else 0.0
        self.i = 0

    def limits(self) -> tuple[float, float]:
        """Current (lcl, ucl)."""
        lam = self.lam
        w = (
            self.L
            * (self.sigma or 0.0)
            * math.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * max(self.i, 1))))
        )
        t = self.target or 0.0
        return t - w, t + w

    def learn_one(self, x: float) -> list[Violation]:
        x = float(x)
        index = self.n
        self.n += 1
        if self._warm(x):
            return []
        self.i += 1
        self.z = self.lam * x + (1 - self.lam) * self.z
        lcl, ucl = self.limits()
        if self.z > ucl or self.z < lcl:
            side = "above" if self.z > ucl else "below"
            return [
                Violation(
                    "ewma",
                    index,
                    self.z,
                    f"EWMA {self.z:.6g} {side} its control limit",
                    "ewma",
                    {"lcl": lcl, "ucl": ucl, "shift": self.z - (self.target or 0.0)},
                )
            ]
        return []


class CUSUM(_Learned):
    """Tabular CUSUM with reference value ``k`` and decision interval ``h`` in sigma units.

    After a signal the sums restart at zero (``headstart`` times ``h`` for a fast initial
    response when set); the violation carries the estimated new mean ``target ± K + C/N``.
    """

    def __init__(
        self,
        target: float | None = None,
        sigma: float | None = None,
        k: float = 0.5,
        h: float = 5.0,
        headstart: float = 0.0,
        warmup: int = 20,
    ) -> None:
        super().__init__(target, sigma, warmup)
        self.k, self.h, self.headstart = k, h, headstart
        self.start()

    def start(self) -> None:
        s = (self.sigma or 0.0) * self.h * self.headstart
        self.hi, self.lo, self.n_hi, self.n_lo = s, s, 0, 0

    def learn_one(self, x: float) -> list[Violation]:
        x = float(x)
        index = self.n
        self.n += 1
        if self._warm(x):
            return []
        t, s = self.target or 0.0, self.sigma or 1.0
        K, H = self.k * s, self.h * s
        self.hi = max(0.0, x - (t + K) + self.hi)
        self.lo = max(0.0, (t - K) - x + self.lo)
        self.n_hi = self.n_hi + 1 if self.hi > 0 else 0
        self.n_lo = self.n_lo + 1 if self.lo > 0 else 0
        out = []
        if self.hi > H:
            mean = t + K + self.hi / self.n_hi
            out.append(
                Violation(
                    "cusum_up",
                    index,
                    self.hi,
                    f"upper CUSUM {self.hi:.4g} > H {H:.4g}",
                    "cusum",
                    {"since": index - self.n_hi + 1, "mean": mean},
                )
            )
        if self.lo > H:
            mean = t - K - self.lo / self.n_lo
            out.append(
                Violation(
                    "cusum_down",
                    index,
                    self.lo,
                    f"lower CUSUM {self.lo:.4g} > H {H:.4g}",
                    "cusum",
                    {"since": index - self.n_lo + 1, "mean": mean},
                )
            )
        if out:
            self.start()
        return out


def ewma(values: Iterable[float], target: float, sigma: float, lam: float = 0.1, L: float = 2.7) -> Chart:
    """History form of :class:`EWMA`: the EWMA statistic, its limits and violations."""
    chart = EWMA(target, sigma, lam, L)
    pts, lo, hi, viol = [], [], [], []
    for x in values:
        viol.extend(chart.learn_one(x))
        pts.append(chart.z)
        a, b = chart.limits()
        lo.append(a)
        hi.append(b)
    return Chart("ewma", np.array(pts), float(target), np.array(lo), np.array(hi), viol)


def cusum(
    values: Iterable[float], target: float, sigma: float, k: float = 0.5, h: float = 5.0, reset: bool = False
) -> tuple[np.ndarray, np.ndarray, list[Violation]]:
    """History form of the tabular CUSUM: ``(C+, C-, violations)``.

    With ``reset=False`` (the textbook table) the sums keep running after a signal.
    """
    t, K, H = target, k * sigma, h * sigma
    hi = lo = 0.0
    n_hi = n_lo = 0
    his, los, viol = [], [], []
    for i, x in enumerate(values):
        hi = max(0.0, x - (t + K) + hi)
        lo = max(0.0, (t - K) - x + lo)
        n_hi = n_hi + 1 if hi > 0 else 0
        n_lo = n_lo + 1 if lo > 0 else 0
        if hi > H:
            viol.append(
                Violation(
                    "cusum_up",
                    i,
                    hi,
                    "upper CUSUM above H",
                    "cusum",
                    {"since": i - n_hi + 1, "mean": t + K + hi / n_hi},
                )
            )
        if lo > H:
            viol.append(
                Violation(
                    "cusum_down",
                    i,
                    lo,
                    "lower CUSUM above H",
                    "cusum",
                    {"since": i - n_lo + 1, "mean": t - K - lo / n_lo},
                )
            )
        if reset and (hi > H or lo > H):
            hi = lo = 0.0
            n_hi = n_lo = 0
        his.append(hi)
        los.append(lo)
    return np.array(his), np.array(los), viol
