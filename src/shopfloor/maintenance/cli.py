"""``shopfloor maintenance plan|orders|order``: plan maintenance into offline hours, manage work orders."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

maintenance_app = typer.Typer(
    help="Maintenance planning and work orders (see docs/maintenance.md).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(maintenance_app, name="maintenance")


async def _with_book(data_dir: Path, fn: Any) -> Any:
    from ..store.state import StateStore
    from .workorders import WorkOrderBook

    state = StateStore(data_dir / "state.db")
    await state.open()
    try:
        return await fn(WorkOrderBook(state))
    finally:
        await state.close()


@maintenance_app.command("plan")
def plan_command(
    input_file: Annotated[
        Path, typer.Option("--input", "-i", help="Plan file (TOML): tasks, calendar, risk limit.")
    ],
    solver: Annotated[str, typer.Option(help="auto (CP-SAT when installed), cpsat or greedy.")] = "auto",
    create_orders: Annotated[
        bool, typer.Option("--create-orders", help="Store the scheduled work as work orders (state store).")
    ] = False,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Platform data directory.")] = Path("data"),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")] = False,
) -> None:
    """Schedule maintenance from RUL distributions into a production calendar.

    Example: shopfloor maintenance plan --input examples/maintenance-plan.toml
    """
    from ..analytics.maintenance.planning import plan
    from .planfile import load

    tasks, calendar, risk = load(input_file)
    result = plan(tasks, calendar, risk_limit=risk, solver=solver)
    out = result.as_dict()
    if create_orders:
        plan_id = f"{input_file.stem}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        start_ns = (time.time_ns() // 3_600_000_000_000 + 1) * 3_600_000_000_000  # next full hour
        orders = asyncio.run(
            _with_book(data_dir, lambda b: b.create_from_plan(result, start_ns, plan_id, "cli"))
        )
        out["work_orders"] = [o["id"] for o in orders]
    if as_json:
        typer.echo(json.dumps(out, default=str))
        return
    typer.echo(f"solver {out['solver']} ({out['status']}), risk limit {risk:.0%}")
    for o in out["orders"]:
        when = "deferred past the horizon" if o["start_h"] is None else f"hour {o['start_h']:>4}"
        where = "offline window" if o["in_offline_window"] else "production time"
        if o["start_h"] is None:
            where = ""
        typer.echo(
            f"  {when}  {o['duration_h']} h x{o['technicians']}  {o['asset']:<45} {where:<16}"
            f" P(fail first) {o['failure_probability']:.1%}  {o['description']}"
        )
    p = out["policies"]
    typer.echo(
        f"expected cost: plan {p['plan']:,.0f}  fixed interval {p['fixed_interval']:,.0f}"
        f"  run to failure {p['run_to_failure']:,.0f}"
    )
    if create_orders:
        typer.echo(f"work orders created: {', '.join(str(i) for i in out['work_orders'])}")


@maintenance_app.command("orders")
def orders_command(
    asset: Annotated[str | None, typer.Option(help="Only this asset (and below).")] = None,
    state: Annotated[list[str] | None, typer.Option(help="Only these states (repeatable).")] = None,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Platform data directory.")] = Path("data"),
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List work orders.

    Example: shopfloor maintenance orders --state planned --state released
    """
    rows = asyncio.run(_with_book(data_dir, lambda b: b.list(asset, state or ())))
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    for r in rows:
        start = (
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(r["planned_start"] / 1e9))
            if r["planned_start"]
            else "-"
        )
        typer.echo(
            f"{r['id']:>5} {r['state']:<11} {start} UTC  {r['duration_h']} h"
            f"  {r['asset']}  {r['description']}"
        )


@maintenance_app.command("order")
def order_command(
    order_id: Annotated[int, typer.Argument(help="Work order id.")],
    to: Annotated[str, typer.Option("--to", help="released | in_progress | done | cancelled")],
    user: Annotated[str, typer.Option(help="Who makes the change.")] = "cli",
    note: Annotated[str, typer.Option(help="A comment for the record.")] = "",
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Platform data directory.")] = Path("data"),
) -> None:
    """Advance a work order.

    Example: shopfloor maintenance order 3 --to released --user alice
    """
    row = asyncio.run(_with_book(data_dir, lambda b: b.transition(order_id, to, user, note)))
    typer.echo(f"work order {row['id']}: {row['state']}")
