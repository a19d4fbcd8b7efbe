"""The embedded store's operations on its DuckDB connection, each run in a worker thread.

Kept apart from :mod:`shopfloor.store.embedded` (the async API and in-memory state) so both
stay small; every function here takes the connection first and does one transaction or query.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from . import queries as q
from .columns import KIND_STR

T = TypeVar("T")


async def settle(call: Callable[..., T], *args: Any, after: Callable[[T], None] | None = None) -> T:
    """Run ``call(*args)`` in a worker thread and wait for it even if cancelled meanwhile.

    A thread cannot be stopped: if the task is cancelled, the call still finishes (and
    ``after`` still records what it committed) before the cancellation is passed on, so the
    in-memory state never disagrees with the file and the lock is held until the end.
    """
    fut = asyncio.ensure_future(asyncio.to_thread(call, *args))
    cancelled = False
    while not fut.done():
        try:
            await asyncio.shield(fut)
        except asyncio.CancelledError:
            if fut.cancelled():
                raise
            cancelled = True
    result = fut.result()
    if after is not None:
        after(result)
    if cancelled:
        raise asyncio.CancelledError
    return result


def history(con: duckdb.DuckDBPyConnection, params: dict[str, int]) -> tuple[list[Any], dict[int, list[str]]]:
    rows = con.execute(q.HISTORY_SQL, params).fetchall()
    texts: dict[int, list[str]] = {}
    if any(flags & 3 == KIND_STR for _, _, flags in rows):
        last = {"sid": params["sid"], "start": params["start"], "last": rows[-1][0]}
        for ts, text in con.execute(q.HISTORY_TEXT_SQL, last).fetchall():
            texts.setdefault(ts, []).append(text)
    return rows, texts


def insert(
    con: duckdb.DuckDBPyConnection,
    table: pa.Table,
    texts: pa.Table | None,
    series: pa.Table | None,
    compact: bool,
) -> float:
    """Insert in one transaction; returns the seconds spent compacting (0 if not)."""
    con.execute("BEGIN")
    compact_s = 0.0
    try:
        for name, data in (("series", series), ("texts", texts)):
            if data is not None:
                con.register("new_rows", data)
                con.execute(f"INSERT INTO {name} SELECT * FROM new_rows")
                con.unregister("new_rows")
        con.register("batch", table)
        con.execute("INSERT INTO hot SELECT * FROM batch")
        con.unregister("batch")
        if compact:
            start = time.perf_counter()
            # series_id alone: ~25% cheaper than (series_id, ts); readers sort by ts themselves
            con.execute("INSERT INTO samples SELECT * FROM hot ORDER BY series_id")
            # drop and re-create rather than DELETE: deleted rows would linger, and be scanned,
            # until the next checkpoint
            con.execute("DROP TABLE hot")
            con.execute(q.HOT_DDL)
            compact_s = time.perf_counter() - start
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return compact_s


def retain(con: duckdb.DuckDBPyConnection, cutoff: int, rollup_cutoff: int, horizon: int) -> int:
    con.execute("BEGIN")
    try:
        con.execute(q.rollup_insert_sql(), {"cutoff": cutoff})
        deleted = 0
        for table in ("samples", "hot"):
            row = con.execute(f"DELETE FROM {table} WHERE ts < $cutoff", {"cutoff": cutoff}).fetchone()
            deleted += int(row[0]) if row else 0
        con.execute("DELETE FROM texts WHERE ts < $cutoff", {"cutoff": cutoff})
        con.execute("DELETE FROM rollup_1m WHERE ts < $c", {"c": rollup_cutoff})
        con.execute("INSERT OR REPLACE INTO meta VALUES ('raw_horizon', $h)", {"h": str(horizon)})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return deleted


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    row = con.execute(
        "SELECT (SELECT count(*) FROM samples), (SELECT count(*) FROM hot), (SELECT count(*) FROM rollup_1m)"
    ).fetchone()
    assert row is not None
    return {"raw_rows": int(row[0]) + int(row[1]), "hot_rows": int(row[1]), "rollup_rows": int(row[2])}
