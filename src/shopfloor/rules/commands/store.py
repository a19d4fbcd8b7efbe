"""Commands and their audit trail in the state store (tables of migration 4)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ...store.state import StateStore
from .model import Command, CommandState

_COLS = (
    "id, asset, tag, value, reason, state, critical, requested_by, approved_by,"
    " created_at, updated_at, result"
)


def _row(c: Command) -> tuple[Any, ...]:
    return (
        c.id,
        c.asset,
        c.tag,
        json.dumps(c.value),
        c.reason,
        c.state.value,
        int(c.critical),
        c.requested_by,
        c.approved_by,
        c.created_at,
        c.updated_at,
        json.dumps(c.result),
    )


def _command(r: tuple[Any, ...]) -> Command:
    return Command(
        r[0],
        r[1],
        r[2],
        json.loads(r[3]),
        r[7],
        r[4],
        bool(r[6]),
        CommandState(r[5]),
        r[8],
        r[9],
        r[10],
        json.loads(r[11] or "{}"),
    )


Trail = tuple[int, str, str, str, dict[str, Any]]  # (ts, from state, to state, user, detail)


async def save(state: StateStore, cmd: Command, trail: list[Trail]) -> None:
    """Upsert the command and append its audit rows, in one transaction."""
    row = _row(cmd)
    audit = [(cmd.id, ts, f, t, user, json.dumps(detail)) for ts, f, t, user, detail in trail]

    def write(con: sqlite3.Connection) -> None:
        con.execute(f"INSERT OR REPLACE INTO commands({_COLS}) VALUES ({', '.join('?' * 12)})", row)
        con.executemany(
            "INSERT INTO command_audit(command_id, ts, from_state, to_state, user_name, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            audit,
        )

    await state.run(write, write=True)


async def get(state: StateStore, command_id: str) -> Command | None:
    sql = f"SELECT {_COLS} FROM commands WHERE id = ?"
    row = await state.run(lambda con: con.execute(sql, (command_id,)).fetchone())
    return _command(row) if row else None


async def query(
    state: StateStore,
    *,
    asset: str | None = None,
    states: list[str] | None = None,
    limit: int = 100,
) -> list[Command]:
    """Commands, newest first; ``asset`` selects that asset and everything below it."""
    where: list[str] = []
    params: list[Any] = []
    if asset:
        where.append("(asset = ? OR asset LIKE ?)")
        params += [asset.strip("/"), asset.strip("/") + "/%"]
    if states:
        where.append(f"state IN ({', '.join('?' * len(states))})")
        params += states
    sql = f"SELECT {_COLS} FROM commands"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, id LIMIT ?"
    params.append(max(0, int(limit)))
    rows = await state.run(lambda con: con.execute(sql, params).fetchall())
    return [_command(r) for r in rows]


async def trail(state: StateStore, command_id: str) -> list[dict[str, Any]]:
    """The audit trail of one command, oldest first."""
    sql = (
        "SELECT ts, from_state, to_state, user_name, detail FROM command_audit"
        " WHERE command_id = ? ORDER BY id"
    )
    rows = await state.run(lambda con: con.execute(sql, (command_id,)).fetchall())
    return [
        {"ts": ts, "from": f, "to": t, "user": u, "detail": json.loads(d or "{}")} for ts, f, t, u, d in rows
    ]


async def open_commands(state: StateStore) -> list[Command]:
    """Commands not in a final state (after a restart they are resolved)."""
    return await query(state, states=["requested", "approved", "sent"], limit=100_000)
