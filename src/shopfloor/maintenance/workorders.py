"""Work orders: planned maintenance as records with a life cycle, in the state store.

States: ``planned`` -> ``released`` -> ``in_progress`` -> ``done``; any open state ->
``cancelled``. Each transition records who made it and when; a transition that the life
cycle does not allow is refused with the current state named.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from ..analytics.maintenance.planning import Plan
from ..core.errors import ConfigError
from ..store.state import StateStore

STATES = ("planned", "released", "in_progress", "done", "cancelled")
NEXT: dict[str, tuple[str, ...]] = {
    "planned": ("released", "cancelled"),
    "released": ("in_progress", "cancelled"),
    "in_progress": ("done", "cancelled"),
    "done": (),
    "cancelled": (),
}
_COLUMNS = (
    "id",
    "asset",
    "description",
    "state",
    "planned_start",
    "duration_h",
    "technicians",
    "failure_probability",
    "expected_cost",
    "plan_id",
    "created_by",
    "created_at",
    "updated_at",
    "note",
)
HOUR_NS = 3_600_000_000_000


class WorkOrderNotFound(ConfigError):
    """No work order with that id."""


class WorkOrderBook:
    """Create, list and advance work orders in a :class:`StateStore`."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    async def create_from_plan(
        self, plan: Plan, start_ns: int, plan_id: str, user: str = ""
    ) -> list[dict[str, Any]]:
        """One ``planned`` order per scheduled task (deferred tasks get none); returns them."""
        now = time.time_ns()
        rows = [
            (
                o.asset,
                o.description,
                "planned",
                start_ns + o.start_h * HOUR_NS,
                o.duration_h,
                o.technicians,
                o.failure_probability,
                o.expected_cost,
                plan_id,
                user,
                now,
                now,
            )
            for o in plan.orders
            if o.start_h is not None
        ]

        def insert(con: sqlite3.Connection) -> list[int]:
            ids = []
            for row in rows:
                cur = con.execute(
                    "INSERT INTO work_orders(asset, description, state, planned_start, duration_h,"
                    " technicians, failure_probability, expected_cost, plan_id, created_by, created_at,"
                    " updated_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    row,
                )
                ids.append(int(cur.lastrowid or 0))
            return ids

        ids = await self.state.run(insert, write=True)
        return [await self.get(i) for i in ids]

    async def list(
        self, asset: str | None = None, states: Sequence[str] = (), limit: int = 500
    ) -> list[dict[str, Any]]:
        for s in states:
            if s not in STATES:
                raise ConfigError(f"work order state {s!r}: choose from {', '.join(STATES)}")
        where, args = [], []
        if asset:
            where.append("(asset = ? OR asset LIKE ?)")
            args += [asset, asset.rstrip("/") + "/%"]
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            args += list(states)
        sql = f"SELECT {', '.join(_COLUMNS)} FROM work_orders"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY planned_start, id LIMIT ?"
        args.append(limit)
        rows = await self.state.run(lambda con: con.execute(sql, args).fetchall())
        return [dict(zip(_COLUMNS, r, strict=True)) for r in rows]

    async def get(self, order_id: int) -> dict[str, Any]:
        rows = await self.state.run(
            lambda con: con.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM work_orders WHERE id = ?", (order_id,)
            ).fetchall()
        )
        if not rows:
            raise WorkOrderNotFound(f"work order {order_id} does not exist")
        return dict(zip(_COLUMNS, rows[0], strict=True))

    async def transition(self, order_id: int, state: str, user: str = "", note: str = "") -> dict[str, Any]:
        """Move an order to ``state`` if its life cycle allows it."""
        if state not in STATES:
            raise ConfigError(f"work order state {state!r}: choose from {', '.join(STATES)}")

        def update(con: sqlite3.Connection) -> None:
            row = con.execute("SELECT state, note FROM work_orders WHERE id = ?", (order_id,)).fetchone()
            if row is None:
                raise WorkOrderNotFound(f"work order {order_id} does not exist")
            current, old_note = row
            if state not in NEXT[current]:
                allowed = ", ".join(NEXT[current]) or "none (closed)"
                raise ConfigError(
                    f"work order {order_id} is {current}: cannot go to {state} (allowed: {allowed})"
                )
            line = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {user or '-'}: {current} -> {state}"
            if note:
                line += f" ({note})"
            con.execute(
                "UPDATE work_orders SET state = ?, updated_at = ?, note = ? WHERE id = ?",
                (state, time.time_ns(), (old_note + "\n" + line).strip(), order_id),
            )

        await self.state.run(update, write=True)
        return await self.get(order_id)
