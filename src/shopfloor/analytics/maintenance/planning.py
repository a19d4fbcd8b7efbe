"""Maintenance planning: put work into offline hours where the failure risk allows.

Inputs (all times in hours from the start of the plan, costs in one currency):

* one :class:`Task` per asset that needs work: its remaining useful life as a
  :class:`RULDistribution` (from the RUL model's point and interval, from samples, or a
  Weibull law), the task's duration and technicians, and its costs: parts, labour per
  technician-hour, and the cost of a failure (unplanned stop, repair, scrap);
* a :class:`Calendar`: the production calendar's offline windows (no production lost while
  maintaining), technician capacity per hour, and the cost of one hour of lost production;
* a risk limit: the largest probability of failing before the work is done that the plan may
  accept (the work is placed earlier, in production time if it must, to respect it).

The expected cost of doing task *i* starting at hour *s* is

    P(RUL_i <= s) * failure_cost_i                       (it fails before we get there)
  + (1 - P(RUL_i <= s)) * (parts + labour + downtime(s, duration))
  + life_cost_per_h * E[max(RUL_i - s, 0)]                (useful life thrown away)

where downtime counts the production hours the work overlaps, priced at the calendar's
hourly production value, and the last term prices the component life that working early
discards (by default the work cost spread over the mean RUL: replacing a part at once costs
about one part more than replacing it at the end of its life). Without it, "as early as
possible" would always win. A task may also be left out of the horizon ("defer") while its
probability of failing within the horizon is within the risk limit; the work is still owed
after the horizon, so deferring costs
P(RUL_i <= horizon) * failure_cost_i + (1 - P(RUL_i <= horizon)) * (parts + labour).

:func:`plan` solves the assignment exactly with OR-Tools CP-SAT (extra ``maintenance``:
one start per task, technician capacity per hour) and falls back to a greedy heuristic
(cheapest feasible start, tasks by urgency) when OR-Tools is not installed; the result says
which solver ran. :func:`compare_policies` prices the same tasks under run-to-failure and
fixed-interval policies with the same cost model, so the plan's saving is measurable.

>>> rul = RULDistribution.from_interval(100.0, 70.0, 140.0, coverage=0.9)
>>> round(rul.cdf(100.0), 2)
0.5
>>> cal = Calendar(horizon_h=168, offline=[(120, 132)], technicians=2, production_cost_per_h=1000.0)
>>> task = Task("line1/cutter/blade", rul, duration_h=2, parts_cost=300.0, failure_cost=20000.0)
>>> result = plan([task], cal, risk_limit=0.2, solver="greedy")
>>> result.orders[0].start_h < 100
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from shopfloor.core.errors import ConfigError

COST_SCALE = 100  # CP-SAT works on integers: costs in cents


@dataclass(frozen=True)
class RULDistribution:
    """Remaining useful life in hours, as a cumulative distribution function.

    Build it with :meth:`from_interval` (log-normal through the RUL model's point estimate
    and prediction interval), :meth:`from_samples` (empirical) or :meth:`weibull`.
    """

    kind: str
    params: tuple[float, ...]
    samples: tuple[float, ...] = ()

    @classmethod
    def from_interval(cls, point: float, lo: float, hi: float, coverage: float = 0.9) -> RULDistribution:
        """Log-normal with median ``point`` whose central ``coverage`` spans about ``[lo, hi]``."""
        if not (point > 0 and hi >= point and 0 < coverage < 1):
            raise ConfigError(f"RUL interval: need point > 0 and lo <= point <= hi, got {lo}, {point}, {hi}")
        lo = max(lo, point * 1e-3)
        z = float(stats.norm.ppf(0.5 + coverage / 2))
        sigma = max(math.log(hi / lo) / (2 * z), 1e-3)
        return cls("lognormal", (math.log(point), sigma))

    @classmethod
    def from_samples(cls, samples: Sequence[float]) -> RULDistribution:
        values = tuple(sorted(float(s) for s in samples))
        if not values:
            raise ConfigError("RUL samples: empty")
        return cls("empirical", (), values)

    @classmethod
    def weibull(cls, shape: float, scale: float) -> RULDistribution:
        if shape <= 0 or scale <= 0:
            raise ConfigError(f"Weibull RUL: shape and scale must be > 0, got {shape}, {scale}")
        return cls("weibull", (shape, scale))

    def cdf(self, t: float | np.ndarray) -> Any:
        """P(RUL <= t)."""
        t = np.asarray(t, dtype=float)
        if self.kind == "lognormal":
            mu, sigma = self.params
            out = stats.lognorm.cdf(np.maximum(t, 0), s=sigma, scale=math.exp(mu))
        elif self.kind == "weibull":
            shape, scale = self.params
            out = stats.weibull_min.cdf(np.maximum(t, 0), shape, scale=scale)
        else:
            out = np.searchsorted(np.asarray(self.samples), t, side="right") / len(self.samples)
        return float(out) if out.ndim == 0 else out

    def quantile(self, q: float) -> float:
        if self.kind == "lognormal":
            mu, sigma = self.params
            return float(stats.lognorm.ppf(q, s=sigma, scale=math.exp(mu)))
        if self.kind == "weibull":
            shape, scale = self.params
            return float(stats.weibull_min.ppf(q, shape, scale=scale))
        return float(np.quantile(np.asarray(self.samples), q))

    def residual(self, starts: np.ndarray) -> np.ndarray:
        """E[max(RUL - s, 0)] for each start ``s``: the useful life left unused by working at ``s``."""
        starts = np.asarray(starts, dtype=float)
        top = max(float(starts.max(initial=0.0)), self.quantile(0.9999)) + 1.0
        grid = np.linspace(0.0, top, 4097)
        survival = 1.0 - np.asarray(self.cdf(grid), dtype=float)
        step = grid[1] - grid[0]
        # integral of the survival function from each grid point to the top (trapezoids)
        tail = np.concatenate([np.cumsum(((survival[1:] + survival[:-1]) / 2 * step)[::-1])[::-1], [0.0]])
        return np.interp(starts, grid, tail)

    def mean(self) -> float:
        if self.kind == "lognormal":
            mu, sigma = self.params
            return math.exp(mu + sigma**2 / 2)
        if self.kind == "weibull":
            shape, scale = self.params
            return scale * math.gamma(1 + 1 / shape)
        return float(np.mean(self.samples))


@dataclass(frozen=True)
class Task:
    """Work one asset needs: its RUL and what the work costs."""

    asset: str
    rul: RULDistribution
    duration_h: int = 2
    technicians: int = 1
    parts_cost: float = 0.0
    labour_cost_per_h: float = 60.0
    failure_cost: float = 10_000.0
    description: str = ""
    life_cost_per_h: float | None = None

    def __post_init__(self) -> None:
        if self.duration_h < 1 or self.technicians < 1:
            raise ConfigError(f"task {self.asset}: duration_h and technicians must be >= 1")

    def work_cost(self) -> float:
        return self.parts_cost + self.labour_cost_per_h * self.duration_h * self.technicians

    def life_cost(self) -> float:
        """Value of one hour of the component's remaining life (default: work cost / mean RUL)."""
        if self.life_cost_per_h is not None:
            return self.life_cost_per_h
        return self.work_cost() / max(self.rul.mean(), 1.0)


@dataclass(frozen=True)
class Calendar:
    """The production calendar over ``horizon_h`` hours."""

    horizon_h: int
    offline: Sequence[tuple[int, int]] = ()
    technicians: int | Sequence[int] = 1
    production_cost_per_h: float = 1_000.0

    def __post_init__(self) -> None:
        if self.horizon_h < 1:
            raise ConfigError("calendar: horizon_h must be >= 1")
        for start, end in self.offline:
            if not 0 <= start < end:
                raise ConfigError(f"calendar: offline window ({start}, {end}) must have 0 <= start < end")
        if not isinstance(self.technicians, int) and len(self.technicians) != self.horizon_h:
            raise ConfigError("calendar: technicians per hour must list horizon_h values")

    def producing(self) -> np.ndarray:
        """1 for each hour the plant produces, 0 for offline hours."""
        mask = np.ones(self.horizon_h, dtype=int)
        for start, end in self.offline:
            mask[max(0, start) : min(self.horizon_h, end)] = 0
        return mask

    def capacity(self) -> np.ndarray:
        if isinstance(self.technicians, int):
            return np.full(self.horizon_h, self.technicians, dtype=int)
        return np.asarray(self.technicians, dtype=int)


@dataclass
class WorkOrder:
    """One planned piece of work (``start_h`` is None when the task is deferred)."""

    asset: str
    start_h: int | None
    duration_h: int
    technicians: int
    in_offline_window: bool
    failure_probability: float
    expected_cost: float
    description: str = ""


@dataclass
class Plan:
    orders: list[WorkOrder]
    expected_cost: float
    solver: str
    status: str
    risk_limit: float
    policies: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "solver": self.solver,
            "status": self.status,
            "risk_limit": self.risk_limit,
            "expected_cost": round(self.expected_cost, 2),
            "policies": {k: round(v, 2) for k, v in self.policies.items()},
            "orders": [asdict(o) for o in self.orders],
        }


def start_costs(task: Task, cal: Calendar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected cost, failure probability and lost production hours of each start hour."""
    starts = np.arange(cal.horizon_h - task.duration_h + 1)
    p_fail = np.asarray(task.rul.cdf(starts.astype(float)), dtype=float)
    producing = np.concatenate([[0], np.cumsum(cal.producing())])
    lost_h = producing[starts + task.duration_h] - producing[starts]
    unused_life = task.life_cost() * task.rul.residual(starts)
    cost = (
        p_fail * task.failure_cost
        + (1 - p_fail) * (task.work_cost() + lost_h * cal.production_cost_per_h)
        + unused_life
    )
    return cost, p_fail, lost_h


def _defer(task: Task, cal: Calendar, work_later: bool = True) -> tuple[float, float]:
    """Cost and failure probability of leaving the task out of the horizon.

    With ``work_later`` the work is still owed after the horizon when the asset survives it.
    """
    p = float(task.rul.cdf(float(cal.horizon_h)))
    return p * task.failure_cost + ((1 - p) * task.work_cost() if work_later else 0.0), p


def plan(
    tasks: Sequence[Task],
    cal: Calendar,
    risk_limit: float = 0.1,
    solver: str = "auto",
    time_limit_s: float = 10.0,
) -> Plan:
    """Schedule ``tasks`` into ``cal`` at the least expected cost within ``risk_limit``.

    ``solver``: ``"cpsat"`` (OR-Tools), ``"greedy"`` or ``"auto"`` (CP-SAT when installed).
    A task whose every start exceeds the risk limit gets the start with the least risk (the
    earliest), and the plan says so in its status.
    """
    if not 0 < risk_limit < 1:
        raise ConfigError(f"risk_limit must be in (0, 1), got {risk_limit}")
    for t in tasks:
        if t.duration_h > cal.horizon_h:
            raise ConfigError(f"task {t.asset}: duration {t.duration_h} h exceeds the horizon")
    if solver not in ("auto", "cpsat", "greedy"):
        raise ConfigError(f"solver {solver!r}: choose auto, cpsat or greedy")
    if solver in ("auto", "cpsat"):
        try:
            from ortools.sat.python import cp_model  # noqa: F401
        except ImportError:
            if solver == "cpsat":
                raise ConfigError(
                    "solver cpsat needs OR-Tools: pip install 'shopfloor[maintenance]'"
                ) from None
            solver = "greedy"
        else:
            solver = "cpsat"
    options = [_options(t, cal, risk_limit) for t in tasks]
    if solver == "cpsat":
        choice, status = _solve_cpsat(tasks, cal, options, time_limit_s)
    else:
        choice, status = _solve_greedy(tasks, cal, options)
    orders = [_order(t, cal, opts, c) for t, opts, c in zip(tasks, options, choice, strict=True)]
    result = Plan(orders, sum(o.expected_cost for o in orders), solver, status, risk_limit)
    result.policies = compare_policies(tasks, cal)
    result.policies["plan"] = result.expected_cost
    return result


# -- options and solvers ------------------------------------------------------------------------

Option = tuple[int | None, float, float]  # (start or None for defer, cost, failure probability)


def _options(task: Task, cal: Calendar, risk_limit: float) -> list[Option]:
    cost, p_fail, _ = start_costs(task, cal)
    opts: list[Option] = [
        (int(s), float(cost[s]), float(p_fail[s])) for s in range(len(cost)) if p_fail[s] <= risk_limit
    ]
    defer_cost, defer_p = _defer(task, cal)
    if defer_p <= risk_limit:
        opts.append((None, defer_cost, defer_p))
    if not opts:  # even starting now is too late for the risk limit: start as early as possible
        opts.append((0, float(cost[0]), float(p_fail[0])))
    return opts


def _solve_cpsat(
    tasks: Sequence[Task], cal: Calendar, options: list[list[Option]], time_limit_s: float
) -> tuple[list[int], str]:
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    x = [[model.NewBoolVar(f"t{i}o{j}") for j in range(len(opts))] for i, opts in enumerate(options)]
    for row in x:
        model.AddExactlyOne(row)
    capacity = cal.capacity()
    load: list[list[tuple[cp_model.IntVar, int]]] = [[] for _ in range(cal.horizon_h)]
    for i, (task, opts) in enumerate(zip(tasks, options, strict=True)):
        for j, (start, _, _) in enumerate(opts):
            if start is None:
                continue
            for h in range(start, start + task.duration_h):
                load[h].append((x[i][j], task.technicians))
    for h, terms in enumerate(load):
        if terms:
            model.Add(sum(v * n for v, n in terms) <= int(capacity[h]))
    model.Minimize(
        sum(
            round(c * COST_SCALE) * x[i][j]
            for i, opts in enumerate(options)
            for j, (_, c, _) in enumerate(opts)
        )
    )
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    code = solver.Solve(model)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise ConfigError(
            "no feasible maintenance plan: too few technicians for the work within the risk limit"
        )
    choice = [next(j for j, v in enumerate(row) if solver.Value(v)) for row in x]
    return choice, "optimal" if code == cp_model.OPTIMAL else "feasible (time limit)"


def _solve_greedy(tasks: Sequence[Task], cal: Calendar, options: list[list[Option]]) -> tuple[list[int], str]:
    free = cal.capacity().copy()
    # most urgent first: the fewest feasible options, then the earliest mean RUL
    order = sorted(range(len(tasks)), key=lambda i: (len(options[i]), tasks[i].rul.mean()))
    choice = [0] * len(tasks)
    for i in order:
        task = tasks[i]
        ranked = sorted(range(len(options[i])), key=lambda j: options[i][j][1])
        for j in ranked:
            start = options[i][j][0]
            if start is None or all(
                free[h] >= task.technicians for h in range(start, start + task.duration_h)
            ):
                choice[i] = j
                if start is not None:
                    free[start : start + task.duration_h] -= task.technicians
                break
        else:
            raise ConfigError(
                f"no feasible start for {task.asset}: too few technicians within the risk limit"
            )
    return choice, "heuristic"


def _order(task: Task, cal: Calendar, opts: list[Option], j: int) -> WorkOrder:
    start, cost, p = opts[j]
    offline = False
    if start is not None:
        producing = cal.producing()[start : start + task.duration_h]
        offline = bool(producing.sum() == 0)
    return WorkOrder(
        task.asset,
        start,
        task.duration_h,
        task.technicians,
        offline,
        round(p, 4),
        round(cost, 2),
        task.description,
    )


# -- policies ------------------------------------------------------------------------------------


def compare_policies(tasks: Sequence[Task], cal: Calendar, interval_h: int | None = None) -> dict[str, float]:
    """Expected cost of run-to-failure and of fixed-interval maintenance over the horizon.

    * run-to-failure: no planned work; each task costs ``P(fail within horizon) * failure_cost``;
    * fixed interval: work every ``interval_h`` hours (default: a quarter of the horizon,
      at least the task's duration), at the first interval point, in production time or not;
      priced with the same model as the plan (capacity ignored, which favours this policy).
    """
    rtf = sum(_defer(t, cal, work_later=False)[0] for t in tasks)
    fixed = 0.0
    for t in tasks:
        every = interval_h or max(cal.horizon_h // 4, t.duration_h)
        cost, _, _ = start_costs(t, cal)
        start = min(every, len(cost) - 1)
        fixed += float(cost[start])
    return {"run_to_failure": rtf, "fixed_interval": fixed}
