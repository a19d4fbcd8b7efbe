"""Maintenance planning: costs, risk limit, technician capacity, solvers, plan files, work orders."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shopfloor.analytics.maintenance.planning import (
    Calendar,
    RULDistribution,
    Task,
    compare_policies,
    plan,
    start_costs,
)
from shopfloor.core.errors import ConfigError
from shopfloor.maintenance.planfile import load, parse
from shopfloor.maintenance.workorders import WorkOrderBook
from shopfloor.store.state import StateStore

EXAMPLE = Path(__file__).parents[2] / "examples" / "maintenance-plan.toml"
EXE = str(Path(sys.executable).with_name("shopfloor"))


def test_rul_distribution_from_interval_matches_its_interval() -> None:
    point = (60.0 * 160.0) ** 0.5  # log-symmetric interval: both ends on the 5% and 95% quantiles
    rul = RULDistribution.from_interval(point, 60.0, 160.0, coverage=0.9)
    assert rul.cdf(point) == pytest.approx(0.5, abs=1e-9)
    assert rul.cdf(60.0) == pytest.approx(0.05, abs=1e-6)
    assert rul.cdf(160.0) == pytest.approx(0.95, abs=1e-6)
    assert rul.residual(np.array([0.0]))[0] == pytest.approx(rul.mean(), rel=1e-3)
    assert rul.residual(np.array([10_000.0]))[0] == pytest.approx(0.0, abs=1e-6)


def test_empirical_and_weibull_cdfs() -> None:
    emp = RULDistribution.from_samples([10, 20, 30, 40])
    assert emp.cdf(25.0) == 0.5 and emp.cdf(5.0) == 0.0 and emp.cdf(40.0) == 1.0
    w = RULDistribution.weibull(1.0, 50.0)  # exponential with mean 50
    assert w.cdf(50.0) == pytest.approx(1 - np.exp(-1))
    assert w.mean() == pytest.approx(50.0)
    with pytest.raises(ConfigError, match="shape and scale"):
        RULDistribution.weibull(0, 1)


def test_work_goes_into_offline_hours_when_the_risk_allows() -> None:
    cal = Calendar(horizon_h=72, offline=[(20, 26), (44, 50)], technicians=1, production_cost_per_h=2000.0)
    task = Task("a/b/cutter", RULDistribution.from_interval(120, 90, 170), duration_h=2, failure_cost=30_000)
    result = plan([task], cal, risk_limit=0.1, solver="cpsat")
    order = result.orders[0]
    assert order.in_offline_window
    # the later window is still safe and throws away less of the knife's life
    assert order.start_h is not None and 44 <= order.start_h <= 48
    assert order.failure_probability <= 0.1


def test_short_rul_forces_work_into_production_time() -> None:
    cal = Calendar(horizon_h=72, offline=[(40, 48)], technicians=1, production_cost_per_h=2000.0)
    task = Task("a/b/pump", RULDistribution.from_interval(12, 8, 18), duration_h=2, failure_cost=50_000)
    result = plan([task], cal, risk_limit=0.05, solver="cpsat")
    order = result.orders[0]
    assert order.start_h is not None and order.start_h < 12
    assert not order.in_offline_window
    assert order.failure_probability <= 0.05


def test_capacity_is_never_exceeded() -> None:
    cal = Calendar(horizon_h=48, offline=[(10, 14)], technicians=2, production_cost_per_h=1000.0)
    tasks = [
        Task(f"a/m{i}", RULDistribution.from_interval(30 + i, 20 + i, 45 + i), duration_h=4, technicians=2)
        for i in range(3)
    ]
    for solver in ("cpsat", "greedy"):
        result = plan(tasks, cal, risk_limit=0.2, solver=solver)
        load_h = np.zeros(cal.horizon_h, int)
        for o in result.orders:
            if o.start_h is not None:
                load_h[o.start_h : o.start_h + o.duration_h] += o.technicians
        assert load_h.max() <= 2, solver
        # only one 4-hour job fits the 4-hour window with 2 technicians
        assert sum(o.in_offline_window for o in result.orders) == 1, solver


def _brute_force(tasks: list[Task], cal: Calendar, risk: float) -> float:
    from shopfloor.analytics.maintenance.planning import _options

    options = [_options(t, cal, risk) for t in tasks]
    best = float("inf")
    cap = cal.capacity()
    for combo in itertools.product(*options):
        load_h = np.zeros(cal.horizon_h, int)
        for t, (start, _, _) in zip(tasks, combo, strict=True):
            if start is not None:
                load_h[start : start + t.duration_h] += t.technicians
        if (load_h <= cap).all():
            best = min(best, sum(c for _, c, _ in combo))
    return best


def test_cpsat_is_optimal_and_never_worse_than_greedy() -> None:
    rng = np.random.default_rng(7)
    for _ in range(4):
        cal = Calendar(horizon_h=24, offline=[(6, 9), (16, 19)], technicians=1, production_cost_per_h=800.0)
        tasks = [
            Task(
                f"a/m{i}",
                RULDistribution.from_interval(p := float(rng.uniform(10, 40)), p * 0.6, p * 1.6),
                duration_h=int(rng.integers(1, 3)),
                failure_cost=float(rng.uniform(5_000, 20_000)),
            )
            for i in range(3)
        ]
        exact = plan(tasks, cal, risk_limit=0.3, solver="cpsat")
        greedy = plan(tasks, cal, risk_limit=0.3, solver="greedy")
        assert exact.status == "optimal"
        assert exact.expected_cost == pytest.approx(_brute_force(tasks, cal, 0.3), abs=0.05)
        assert exact.expected_cost <= greedy.expected_cost + 1e-6


def test_plan_beats_run_to_failure_and_fixed_interval_on_the_example() -> None:
    tasks, cal, risk = load(EXAMPLE)
    result = plan(tasks, cal, risk_limit=risk)
    assert result.policies["plan"] < result.policies["fixed_interval"]
    assert result.policies["plan"] < result.policies["run_to_failure"]
    # every order's cost is the cost model's value at its start
    for task, order in zip(tasks, result.orders, strict=True):
        if order.start_h is not None:
            cost, _, _ = start_costs(task, cal)
            assert order.expected_cost == pytest.approx(cost[order.start_h], abs=0.01)
    assert set(compare_policies(tasks, cal)) == {"run_to_failure", "fixed_interval"}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "missing \\[calendar\\]"),
        ({"calendar": {}}, "needs 'horizon_h'"),
        ({"calendar": {"horizon_h": 10}}, "no \\[\\[task\\]\\]"),
        ({"calendar": {"horizon_h": 10}, "task": [{"asset": "x"}]}, "task\\[0\\]: needs 'asset' and 'rul'"),
        (
            {"calendar": {"horizon_h": 10}, "task": [{"asset": "x", "rul": {"point": 5}}]},
            "task\\[0\\].rul: missing 'lo'",
        ),
        (
            {"calendar": {"horizon_h": 10}, "task": [{"asset": "x", "rul": {}, "colour": 1}]},
            "unknown field\\(s\\) colour",
        ),
        ({"calendar": {"horizon_h": 10, "offline": [[5, 2]]}}, "offline window"),
    ],
)
def test_plan_file_errors_name_what_is_wrong(doc: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(doc)


def test_risk_limit_and_solver_are_checked() -> None:
    tasks, cal, _ = load(EXAMPLE)
    with pytest.raises(ConfigError, match="risk_limit"):
        plan(tasks, cal, risk_limit=1.5)
    with pytest.raises(ConfigError, match="solver"):
        plan(tasks, cal, solver="magic")


async def test_work_orders_life_cycle(tmp_path: Path) -> None:
    tasks, cal, risk = load(EXAMPLE)
    result = plan(tasks, cal, risk_limit=risk)
    state = StateStore(tmp_path / "state.db")
    await state.open()
    try:
        book = WorkOrderBook(state)
        orders = await book.create_from_plan(result, start_ns=0, plan_id="p1", user="alice")
        assert len(orders) == sum(o.start_h is not None for o in result.orders)
        assert all(o["state"] == "planned" and o["created_by"] == "alice" for o in orders)
        first = orders[0]["id"]
        with pytest.raises(ConfigError, match="is planned: cannot go to done"):
            await book.transition(first, "done", "bob")
        await book.transition(first, "released", "bob", "parts on site")
        await book.transition(first, "in_progress", "carol")
        row = await book.transition(first, "done", "carol")
        assert row["state"] == "done" and "parts on site" in row["note"] and "carol" in row["note"]
        assert [o["id"] for o in await book.list(states=["done"])] == [first]
        assert len(await book.list(asset="riverside/converting")) == 2
        with pytest.raises(ConfigError, match="does not exist"):
            await book.get(9999)
    finally:
        await state.close()


def test_cli_plan_creates_orders(tmp_path: Path) -> None:
    r = subprocess.run(
        [
            EXE,
            "maintenance",
            "plan",
            "--input",
            str(EXAMPLE),
            "--create-orders",
            "--data-dir",
            str(tmp_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["solver"] in ("cpsat", "greedy") and len(out["work_orders"]) >= 1
    r = subprocess.run(
        [EXE, "maintenance", "orders", "--data-dir", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == len(out["work_orders"])
    bad = subprocess.run(
        [EXE, "maintenance", "plan", "--input", str(tmp_path / "nope.toml")], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "nope.toml" in bad.stderr
