"""Non-parametric life data: Kaplan-Meier with Greenwood bounds and the log-rank test.

Times are any positive life measure (usage hours, days in service); ``events`` is 1 for a
failure and 0 for a unit still running (right-censored) at that time.

>>> km = kaplan_meier([6, 6, 6, 7, 10], [1, 1, 0, 1, 0])
>>> [round(s, 3) for s in km.survival]
[0.6, 0.3]
>>> km.at(8.0) == km.survival[1]
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ...core.errors import ShopfloorError


class LifeDataError(ShopfloorError, ValueError):
    """Life data that cannot be analysed (names what is wrong)."""


def as_life_data(times: Sequence[float] | np.ndarray, events: Sequence[int] | np.ndarray | None = None):
    """Validated float times and 0/1 events (all failures when ``events`` is None)."""
    t = np.asarray(times, dtype=float)
    e = np.ones_like(t, dtype=bool) if events is None else np.asarray(events).astype(bool)
    if t.ndim != 1 or t.shape != e.shape:
        raise LifeDataError(f"times and events must be 1-D and equally long, got {t.shape} and {e.shape}")
    if t.size == 0:
        raise LifeDataError("no life data")
    bad = ~np.isfinite(t) | (t <= 0)
    if bad.any():
        raise LifeDataError(
            f"times must be positive and finite; {int(bad.sum())} are not (first {t[bad][0]!r})"
        )
    return t, e


@dataclass(slots=True)
class KaplanMeier:
    """The product-limit estimate at each distinct failure time, with Greenwood's variance."""

    times: list[float]
    survival: list[float]
    std_err: list[float]
    at_risk: list[int]
    failures: list[int]
    lower: list[float]
    upper: list[float]

    def at(self, t: float) -> float:
        """S(t): the estimate holds from one failure time up to the next."""
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        return 1.0 if i < 0 else self.survival[i]


def kaplan_meier(
    times: Sequence[float] | np.ndarray, events: Sequence[int] | np.ndarray | None = None, conf: float = 0.95
) -> KaplanMeier:
    """Kaplan-Meier estimate; bounds are the log(-log) transform of Greenwood's variance.

    Censored units at a failure time count as at risk at that time (the usual convention).
    """
    t, e = as_life_data(times, events)
    z = stats.norm.ppf(0.5 + conf / 2)
    uniq = np.unique(t[e])
    s, gw = 1.0, 0.0
    out = KaplanMeier([], [], [], [], [], [], [])
    for u in uniq:
        n = int((t >= u).sum())
        d = int(((t == u) & e).sum())
        s *= 1.0 - d / n
        gw += d / (n * (n - d)) if n > d else np.inf
        se = s * np.sqrt(gw) if np.isfinite(gw) else float("nan")
        if 0.0 < s < 1.0 and np.isfinite(gw):
            v = np.sqrt(gw) / abs(np.log(s))
            lo, hi = s ** np.exp(z * v), s ** np.exp(-z * v)
        else:
            lo, hi = s, s
        out.times.append(float(u))
        out.survival.append(float(s))
        out.std_err.append(float(se))
        out.at_risk.append(n)
        out.failures.append(d)
        out.lower.append(float(lo))
        out.upper.append(float(hi))
    return out


@dataclass(slots=True)
class LogRank:
    """A k-sample log-rank test: observed and expected failures per group, chi-square, p."""

    groups: list[str]
    observed: list[float]
    expected: list[float]
    chi2: float
    dof: int
    p_value: float

    def ratio(self, group: str) -> float:
        """Observed / expected failures of a group (> 1: fails sooner than the pooled hazard)."""
        i = self.groups.index(group)
        return self.observed[i] / self.expected[i] if self.expected[i] > 0 else float("inf")


def log_rank(
    times: Sequence[float] | np.ndarray,
    events: Sequence[int] | np.ndarray | None,
    groups: Sequence[str] | np.ndarray,
) -> LogRank:
    """Mantel-Haenszel log-rank test of equal hazards across ``groups`` (at least two).

    Uses the full hypergeometric covariance, so the statistic is chi-square with k-1 degrees
    of freedom under the null.
    """
    t, e = as_life_data(times, events)
    g = np.asarray(groups).astype(str)
    if g.shape != t.shape:
        raise LifeDataError(f"groups must be as long as times ({t.size}), got {g.size}")
    names = sorted(set(g.tolist()))
    if len(names) < 2:
        raise LifeDataError("the log-rank test needs at least two groups")
    idx = np.searchsorted(names, g)
    k = len(names)
    u = np.unique(t[e])  # distinct failure times
    # at risk per group at each failure time: units of the group with time >= u
    n_j = np.empty((u.size, k))
    d_j = np.empty((u.size, k))
    for j in range(k):
        tj = np.sort(t[idx == j])
        n_j[:, j] = tj.size - np.searchsorted(tj, u, side="left")
        fj = np.sort(t[(idx == j) & e])
        d_j[:, j] = np.searchsorted(fj, u, side="right") - np.searchsorted(fj, u, side="left")
    n = n_j.sum(axis=1)
    d = d_j.sum(axis=1)
    obs = d_j.sum(axis=0)
    exp = (d[:, None] * n_j / n[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(n > 1, d * (n - d) / (n * n * (n - 1)), 0.0)
    V = np.diag((f * n) @ n_j) - (n_j * f[:, None]).T @ n_j
    diff = (obs - exp)[:-1]
    Vr = V[:-1, :-1]
    chi2 = float(diff @ np.linalg.pinv(Vr) @ diff)
    dof = k - 1
    return LogRank(names, obs.tolist(), exp.tolist(), chi2, dof, float(stats.chi2.sf(chi2, dof)))
