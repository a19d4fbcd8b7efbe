"""Persistence of rules, alarms and the alarm journal in the state store (SQLite).

Tables (created by migration 2 in :mod:`shopfloor.store.state`):

- ``rules``: rules defined over the API (``body`` is the rule as JSON);
- ``alarms``: the current state of every alarm, with its condition state so evaluation
  resumes after a restart;
- ``alarm_journal``: every transition and operator action, append-only.

All functions take a :class:`~shopfloor.store.state.StateStore` and are async; the SQL
runs in its worker thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from ..store.state import StateStore

JOURNAL_COLUMNS = (
    "ts",
    "alarm_id",
    "rule_id",
    "asset",
    "tag",
    "priority",
    "event",
    "from_state",
    "to_state",
    "user_name",
    "comment",
    "value",
    "message",
)
_INSERT_JOURNAL = (
    f"INSERT INTO alarm_journal({', '.join(JOURNAL_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(JOURNAL_COLUMNS))})"
)
_UPSERT_ALARM = (
    "INSERT INTO alarms(id, rule_id, asset, tag, priority, state, flags, cond, value, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT(id) DO UPDATE SET rule_id=excluded.rule_id, asset=excluded.asset, tag=excluded.tag,"
    " priority=excluded.priority, state=excluded.state, flags=excluded.flags, cond=excluded.cond,"
    " value=excluded.value, updated_at=excluded.updated_at"
)


def journal_row(entry: dict[str, Any]) -> tuple[Any, ...]:
    """A journal entry (the dict published on the bus) as a table row."""
    return (
        entry["ts"],
        entry["alarm_id"],
        entry["rule_id"],
        entry["asset"],
        entry["tag"],
        entry["priority"],
        entry["event"],
        entry["from_state"],
        entry["to_state"],
        entry.get("user", ""),
        entry.get("comment", ""),
        json.dumps(entry.get("value")),
        entry.get("message", ""),
    )


async def save(
    state: StateStore, journal: Sequence[tuple[Any, ...]], alarms: Sequence[tuple[Any, ...]]
) -> None:
    """Append journal rows and upsert alarm rows, in one transaction."""
    if not journal and not alarms:
        return

    def write(con: sqlite3.Connection) -> None:
        if journal:
            con.executemany(_INSERT_JOURNAL, journal)
        if alarms:
            con.executemany(_UPSERT_ALARM, alarms)

    await state.run(write, write=True)


async def load_alarms(state: StateStore) -> dict[str, tuple[dict[str, Any], dict[str, Any], Any]]:
    """Every persisted alarm: ``id -> (flags, condition state, last value)``."""
    rows = await state.run(lambda con: con.execute("SELECT id, flags, cond, value FROM alarms").fetchall())
    out: dict[str, tuple[dict[str, Any], dict[str, Any], Any]] = {}
    for id_, flags, cond, value in rows:
        out[id_] = (json.loads(flags), json.loads(cond), json.loads(value) if value is not None else None)
    return out


async def delete_alarms(state: StateStore, ids: Sequence[str]) -> None:
    """Forget the current state of alarms whose rule is gone (their journal stays)."""
    if ids:
        await state.run(
            lambda con: con.executemany("DELETE FROM alarms WHERE id = ?", [(i,) for i in ids]), write=True
        )


async def query_journal(
    state: StateStore,
    *,
    alarm_id: str | None = None,
    asset: str | None = None,
    event: str | None = None,
    since: int | None = None,
    until: int | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Journal entries, newest first; ``asset`` matches the asset and everything below it."""
    where: list[str] = []
    params: list[Any] = []
    if alarm_id:
        where.append("alarm_id = ?")
        params.append(alarm_id)
    if asset:
        asset = asset.strip("/")
        where.append("(asset = ? OR asset LIKE ? ESCAPE '\\')")
        params += [asset, asset.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"]
    if event:
        where.append("event = ?")
        params.append(event)
    if since is not None:
        where.append("ts >= ?")
        params.append(int(since))
    if until is not None:
        where.append("ts < ?")
        params.append(int(until))
    sql = f"SELECT id, {', '.join(JOURNAL_COLUMNS)} FROM alarm_journal"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY ts DESC, id DESC LIMIT ?"
    params.append(max(0, int(limit)))
    rows = await state.run(lambda con: con.execute(sql, params).fetchall())
    out = []
    for row in rows:
        entry = dict(zip(("seq", *JOURNAL_COLUMNS), row, strict=True))
        entry["user"] = entry.pop("user_name")
        entry["value"] = json.loads(entry["value"]) if entry["value"] is not None else None
        out.append(entry)
    return out


async def annunciations(state: StateStore, since: int) -> list[tuple[int, str, str]]:
    """``(ts, alarm_id, priority)`` of every annunciation since ``since``, oldest first.

    An annunciation is any transition into UNACKNOWLEDGED: a new occurrence, or an active
    alarm coming back from shelved, suppressed or out of service.
    """
    sql = (
        "SELECT ts, alarm_id, priority FROM alarm_journal"
        " WHERE ts >= ? AND to_state = 'unacknowledged' AND from_state != 'unacknowledged' ORDER BY ts"
    )
    rows = await state.run(lambda con: con.execute(sql, (int(since),)).fetchall())
    return [(int(ts), str(a), str(p)) for ts, a, p in rows]


# -- rules defined over the API ---------------------------------------------------------------------


async def load_rules(state: StateStore) -> list[dict[str, Any]]:
    """The bodies of the rules defined over the API, oldest first."""
    rows = await state.run(
        lambda con: con.execute("SELECT body FROM rules ORDER BY created_at, id").fetchall()
    )
    return [json.loads(body) for (body,) in rows]


async def save_rule(state: StateStore, rule_id: str, body: dict[str, Any], user: str, now: int) -> None:
    """Insert or replace one API rule."""
    sql = (
        "INSERT INTO rules(id, body, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET body=excluded.body, updated_at=excluded.updated_at"
    )
    await state.run(lambda con: con.execute(sql, (rule_id, json.dumps(body), user, now, now)), write=True)


async def delete_rule(state: StateStore, rule_id: str) -> bool:
    """Delete one API rule; False when there was none."""
    deleted = await state.run(
        lambda con: con.execute("DELETE FROM rules WHERE id = ?", (rule_id,)).rowcount, write=True
    )
    return bool(deleted)
