"""Shewhart control charts: X̄-R, X̄-S, I-MR (variables) and p, np, c, u (attributes).

Two forms share one set of formulas (Montgomery, *Introduction to Statistical Quality Control*,
chapters 6 and 7):

* history (phase I): :func:`xbar_r`, :func:`xbar_s`, :func:`imr`, :func:`p_chart`,
  :func:`np_chart`, :func:`c_chart`, :func:`u_chart` estimate the limits from the data and return
  a :class:`Chart` per plotted statistic with its points, limits and rule violations;
* streaming (phase II): :class:`XbarR`, :class:`XbarS`, :class:`IMR`, :class:`P`, :class:`NP`,
  :class:`C`, :class:`U` take given limits (or learn them from the first ``warmup`` subgroups)
  and return the violations of each new subgroup from ``learn_one``.

>>> chart = c_chart([21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16, 19, 10, 17, 13,
...                  22, 18, 39, 30, 24, 16, 19, 17, 15])
>>> round(chart.center, 2), round(float(chart.ucl[0]), 2), chart.out_of_control()
(19.85, 33.21, [5, 19])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from shopfloor.core.errors import ConfigError

from .constants import c4, d2, d3
from .rules import RuleSet, Violation


@dataclass
class Chart:
    """One plotted statistic with its center line, limits (per point) and violations."""

    name: str
    points: np.ndarray
    center: float
    lcl: np.ndarray
    ucl: np.ndarray
    violations: list[Violation] = field(default_factory=list)

    def out_of_control(self) -> list[int]:
        """Indices of points beyond the control limits."""
        return [int(i) for i in np.flatnonzero((self.points > self.ucl) | (self.points < self.lcl))]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "center": self.center,
            "lcl": self.lcl.tolist(),
            "ucl": self.ucl.tolist(),
            "points": self.points.tolist(),
            "violations": [v.to_dict() for v in self.violations],
        }


def _chart(name, points, center, sigma_pt, rules, lcl_floor=None) -> Chart:
    points = np.asarray(points, float)
    sigma_pt = np.broadcast_to(np.asarray(sigma_pt, float), points.shape)
    ucl = center + 3.0 * sigma_pt
    lcl = center - 3.0 * sigma_pt
    if lcl_floor is not None:
        lcl = np.maximum(lcl, lcl_floor)
    rs = RuleSet(rules, chart=name)
    violations: list[Violation] = []
    for x, s in zip(points, sigma_pt, strict=True):
        z = (x - center) / s if s > 0 else 0.0
        violations.extend(rs.check_one(z, float(x)))
    return Chart(name, points, float(center), lcl, ucl, violations)


def _subgroups(data: Sequence[Sequence[float]]) -> np.ndarray:
    arr = np.asarray(data, float)
    if arr.ndim != 2 or arr.shape[1] < 2 or arr.shape[0] < 2:
        raise ConfigError("subgroups: need a 2-D table of at least 2 subgroups of at least 2 values")
    if not np.isfinite(arr).all():
        raise ConfigError("subgroups: values must be finite numbers")
    return arr


def xbar_r(subgroups, rules: str = "we", dispersion_rules: str = "limits") -> tuple[Chart, Chart]:
    """X̄ and R charts from equal-size subgroups (limits ``x̿ ± A2 R̄``, ``D3 R̄``, ``D4 R̄``)."""
    arr = _subgroups(subgroups)
    n = arr.shape[1]
    xbar, r = arr.mean(axis=1), np.ptp(arr, axis=1)
    rbar = float(r.mean())
    sigma = rbar / d2(n)
    xc = _chart("xbar", xbar, float(xbar.mean()), sigma / math.sqrt(n), rules)
    rc = _chart("r", r, rbar, d3(n) * sigma, dispersion_rules, lcl_floor=0.0)
    return xc, rc


def xbar_s(subgroups, rules: str = "we", dispersion_rules: str = "limits") -> tuple[Chart, Chart]:
    """X̄ and S charts (limits ``x̿ ± A3 s̄``, ``B3 s̄``, ``B4 s̄``)."""
    arr = _subgroups(subgroups)
    n = arr.shape[1]
    xbar, s = arr.mean(axis=1), arr.std(axis=1, ddof=1)
    sbar = float(s.mean())
    c = c4(n)
    sigma = sbar / c
    xc = _chart("xbar", xbar, float(xbar.mean()), sigma / math.sqrt(n), rules)
    sc = _chart("s", s, sbar, sigma * math.sqrt(1 - c * c), dispersion_rules, lcl_floor=0.0)
    return xc, sc


def imr(values, rules: str = "we", dispersion_rules: str = "limits") -> tuple[Chart, Chart]:
    """Individuals and moving-range charts (``x̄ ± 3 MR̄/d2``, MR UCL ``D4 MR̄``; span 2)."""
    x = np.asarray(values, float)
    if x.ndim != 1 or len(x) < 3 or not np.isfinite(x).all():
        raise ConfigError("individuals: need at least 3 finite values")
    mr = np.abs(np.diff(x))
    mrbar = float(mr.mean())
    sigma = mrbar / d2(2)
    ic = _chart("individuals", x, float(x.mean()), sigma, rules)
    mc = _chart("mr", mr, mrbar, d3(2) * sigma, dispersion_rules, lcl_floor=0.0)
    return ic, mc


def _counts(values, what: str) -> np.ndarray:
    arr = np.asarray(values, float)
    if arr.ndim != 1 or len(arr) < 2 or not np.isfinite(arr).all() or (arr < 0).any():
        raise ConfigError(f"{what}: need at least 2 non-negative counts")
    return arr


def p_chart(defectives, sizes, rules: str = "we") -> Chart:
    """Fraction nonconforming; ``sizes`` is one sample size or one per sample (limits vary)."""
    d = _counts(defectives, "p chart defectives")
    n = np.broadcast_to(np.asarray(sizes, float), d.shape)
    if (n <= 0).any() or (d > n).any():
        raise ConfigError("p chart: sample sizes must be positive and at least the defectives")
    pbar = float(d.sum() / n.sum())
    return _chart("p", d / n, pbar, np.sqrt(pbar * (1 - pbar) / n), rules, lcl_floor=0.0)


def np_chart(defectives, size: int, rules: str = "we") -> Chart:
    """Number nonconforming for a constant sample size."""
    d = _counts(defectives, "np chart defectives")
    pbar = float(d.mean() / size)
    return _chart("np", d, size * pbar, math.sqrt(size * pbar * (1 - pbar)), rules, lcl_floor=0.0)


def c_chart(counts, rules: str = "limits") -> Chart:
    """Nonconformities per inspection unit (``c̄ ± 3 sqrt(c̄)``)."""
    c = _counts(counts, "c chart counts")
    cbar = float(c.mean())
    return _chart("c", c, cbar, math.sqrt(cbar), rules, lcl_floor=0.0)


def u_chart(counts, units, rules: str = "limits") -> Chart:
    """Nonconformities per unit with ``units`` inspection units per sample (``ū ± 3 sqrt(ū/n)``)."""
    c = _counts(counts, "u chart counts")
    n = np.broadcast_to(np.asarray(units, float), c.shape)
    if (n <= 0).any():
        raise ConfigError("u chart: units per sample must be positive")
    ubar = float(c.sum() / n.sum())
    return _chart("u", c / n, ubar, np.sqrt(ubar / n), rules, lcl_floor=0.0)
