"""Streaming (phase II) Shewhart charts: one subgroup or count in, its violations out.

Each chart either gets its parameters (the in-control mean and sigma, or p̄, c̄, ū) or learns
them from the first ``warmup`` subgroups (phase I, during which it reports nothing), then
freezes them. Violations carry the running index of the subgroup.

>>> chart = IMR(center=10.0, sigma=1.0)
>>> chart.learn_one(10.4), [v.rule for v in chart.learn_one(13.6)]
([], ['we1'])
>>> chart = P(warmup=3)
>>> for d in (4, 6, 5):
...     _ = chart.learn_one(d, 100)
>>> round(chart.pbar, 3), [v.chart for v in chart.learn_one(30, 100)]
(0.05, ['p'])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from shopfloor.core.errors import ConfigError

from .constants import c4, d2, d3
from .rules import RuleSet, Violation


class _Streaming:
    def __init__(self, warmup: int, rules: str, dispersion_rules: str, names: tuple[str, ...]) -> None:
        if warmup < 2:
            raise ConfigError(f"warmup {warmup}: need at least 2 subgroups to learn limits")
        self.warmup = warmup
        self._buf: list = []
        self._rules = [RuleSet(rules, chart=names[0])]
        if len(names) > 1:
            self._rules.append(RuleSet(dispersion_rules, chart=names[1]))
        self.n = 0

    @property
    def ready(self) -> bool:
        raise NotImplementedError

    def _learn(self, item) -> list[Violation]:
        self.n += 1
        if not self.ready:
            self._buf.append(item)
            if len(self._buf) >= self.warmup:
                self._estimate(self._buf)
                self._buf = []
            return []
        out: list[Violation] = []
        for rs, (z, value) in zip(self._rules, self._standardise(item), strict=False):
            for v in rs.check_one(z, value):
                out.append(Violation(v.rule, self.n - 1, v.value, v.description, v.chart))
        return out

    def reset_rules(self) -> None:
        """Forget the run-rule history (after a correction)."""
        for rs in self._rules:
            rs.reset()

    def _estimate(self, items: list) -> None:
        raise NotImplementedError

    def _standardise(self, item) -> list[tuple[float, float]]:
        raise NotImplementedError


def _z(x: float, center: float, sigma: float) -> float:
    return (x - center) / sigma if sigma > 0 else 0.0


class XbarR(_Streaming):
    """X̄-R chart for subgroups of ``n``; ``center``/``sigma`` are the process mean and sigma."""

    def __init__(
        self,
        n: int,
        center: float | None = None,
        sigma: float | None = None,
        warmup: int = 25,
        rules: str = "we",
        dispersion_rules: str = "limits",
    ) -> None:
        super().__init__(warmup, rules, dispersion_rules, ("xbar", self._dispersion))
        d2(n)
        self.size, self.center, self.sigma = n, center, sigma

    _dispersion = "r"

    @property
    def ready(self) -> bool:
        return self.center is not None and self.sigma is not None

    def learn_one(self, subgroup: Sequence[float]) -> list[Violation]:
        x = np.asarray(subgroup, float)
        if x.shape != (self.size,) or not np.isfinite(x).all():
            raise ConfigError(f"subgroup: need {self.size} finite values, got {subgroup!r}")
        return self._learn(x)

    def _spread(self, x: np.ndarray) -> float:
        return float(np.ptp(x))

    def _spread_moments(self) -> tuple[float, float]:
        return d2(self.size), d3(self.size)

    def _estimate(self, items: list) -> None:
        arr = np.asarray(items)
        mean_spread = float(np.mean([self._spread(x) for x in arr]))
        self.center = float(arr.mean())
        self.sigma = mean_spread / self._spread_moments()[0]

    def _standardise(self, x: np.ndarray) -> list[tuple[float, float]]:
        m, s = self._spread_moments()
        spread = self._spread(x)
        sig = self.sigma or 0.0
        return [
            (_z(float(x.mean()), self.center or 0.0, sig / math.sqrt(self.size)), float(x.mean())),
            (_z(spread, m * sig, s * sig), spread),
        ]


class XbarS(XbarR):
    """X̄-S chart: like :class:`XbarR` with the sample standard deviation as the spread."""

    _dispersion = "s"

    def _spread(self, x: np.ndarray) -> float:
        return float(x.std(ddof=1))

    def _spread_moments(self) -> tuple[float, float]:
        c = c4(self.size)
        return c, math.sqrt(1 - c * c)


class IMR(_Streaming):
    """Individuals and moving-range chart."""

    def __init__(
        self,
        center: float | None = None,
        sigma: float | None = None,
        warmup: int = 20,
        rules: str = "we",
        dispersion_rules: str = "limits",
    ) -> None:
        super().__init__(warmup, rules, dispersion_rules, ("individuals", "mr"))
        self.center, self.sigma = center, sigma
        self._last: float | None = None

    @property
    def ready(self) -> bool:
        return self.center is not None and self.sigma is not None

    def learn_one(self, x: float) -> list[Violation]:
        x = float(x)
        if not math.isfinite(x):
            raise ConfigError(f"individual value {x!r}: not a finite number")
        out = self._learn(x)
        self._last = x
        return out

    def _estimate(self, items: list) -> None:
        arr = np.asarray(items, float)
        self.center = float(arr.mean())
        self.sigma = float(np.abs(np.diff(arr)).mean()) / d2(2)

    def _standardise(self, x: float) -> list[tuple[float, float]]:
        sig = self.sigma or 0.0
        out = [(_z(x, self.center or 0.0, sig), x)]
        if self._last is not None:
            mr = abs(x - self._last)
            out.append((_z(mr, d2(2) * sig, d3(2) * sig), mr))
        return out


class P(_Streaming):
    """p chart: ``learn_one(defectives, n)``; limits follow each sample's size."""

    def __init__(self, pbar: float | None = None, warmup: int = 20, rules: str = "we") -> None:
        super().__init__(warmup, rules, "limits", ("p",))
        self.pbar = pbar

    @property
    def ready(self) -> bool:
        return self.pbar is not None

    def learn_one(self, defectives: float, n: float) -> list[Violation]:
        if not (n > 0 and 0 <= defectives <= n):
            raise ConfigError(f"p chart sample: need 0 <= defectives <= n and n > 0, got {defectives}/{n}")
        return self._learn((float(defectives), float(n)))

    def _estimate(self, items: list) -> None:
        self.pbar = sum(d for d, _ in items) / sum(n for _, n in items)

    def _standardise(self, item) -> list[tuple[float, float]]:
        d, n = item
        p = self.pbar or 0.0
        return [(_z(d / n, p, math.sqrt(p * (1 - p) / n)), d / n)]


class NP(P):
    """np chart for a constant sample size ``n``: ``learn_one(defectives)``."""

    def __init__(self, n: int, pbar: float | None = None, warmup: int = 20, rules: str = "we") -> None:
        super().__init__(pbar, warmup, rules)
        self._rules[0].chart = "np"
        self.size = n

    def learn_one(self, defectives: float) -> list[Violation]:  # type: ignore[override]
        return super().learn_one(defectives, self.size)

    def _standardise(self, item) -> list[tuple[float, float]]:
        d, n = item
        p = self.pbar or 0.0
        return [(_z(d, n * p, math.sqrt(n * p * (1 - p))), d)]


class U(_Streaming):
    """u chart: ``learn_one(nonconformities, units)``; :class:`C` is the one-unit case."""

    name = "u"

    def __init__(self, ubar: float | None = None, warmup: int = 20, rules: str = "limits") -> None:
        super().__init__(warmup, rules, "limits", (self.name,))
        self.ubar = ubar

    @property
    def ready(self) -> bool:
        return self.ubar is not None

    def learn_one(self, count: float, units: float = 1.0) -> list[Violation]:
        if not (units > 0 and count >= 0):
            raise ConfigError(f"u chart sample: need count >= 0 and units > 0, got {count}/{units}")
        return self._learn((float(count), float(units)))

    def _estimate(self, items: list) -> None:
        self.ubar = sum(c for c, _ in items) / sum(n for _, n in items)

    def _standardise(self, item) -> list[tuple[float, float]]:
        c, n = item
        u = self.ubar or 0.0
        return [(_z(c / n, u, math.sqrt(u / n)), c / n)]


class C(U):
    """c chart: nonconformities per (constant) inspection unit."""

    name = "c"

    def __init__(self, cbar: float | None = None, warmup: int = 20, rules: str = "limits") -> None:
        super().__init__(cbar, warmup, rules)
