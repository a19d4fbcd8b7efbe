"""The relational state store: one SQLite file (default ``data/state.db``).

Holds what is not a time series: dead letters now; users, devices, alarms and audit later
(each adds a :class:`~shopfloor.store.migrate.Migration` to :data:`MIGRATIONS`). The file is
in WAL mode, so a second process (a CLI admin command) can read, and write briefly, while the
platform runs; writers wait up to ``busy_timeout_s`` for each other.

Calls run in ``asyncio.to_thread`` on one connection, one at a time. sqlite3 errors are
translated: a locked or unreadable file is :class:`StoreUnavailable`, anything else
:class:`StoreError`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..core.errors import StoreError, StoreUnavailable
from ..core.sample import DeadLetter
from .migrate import Migration, enable_wal, migrate

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "dead letters",
        """
        CREATE TABLE dead_letters(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts INTEGER NOT NULL,
            source TEXT NOT NULL,
            topic TEXT NOT NULL,
            reason TEXT NOT NULL,
            error TEXT NOT NULL,
            payload BLOB NOT NULL
        );
        CREATE INDEX dead_letters_ts ON dead_letters(ts);
        CREATE INDEX dead_letters_reason_ts ON dead_letters(reason, ts)
        """,
    ),
    Migration(
        2,
        "rules, alarms and the alarm journal",
        """
        CREATE TABLE rules(
            id TEXT PRIMARY KEY,
            body TEXT NOT NULL,
            created_by TEXT NOT NULL DEFAULT '',
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE TABLE alarms(
            id TEXT PRIMARY KEY,
            rule_id TEXT NOT NULL,
            asset TEXT NOT NULL,
            tag TEXT NOT NULL,
            priority TEXT NOT NULL,
            state TEXT NOT NULL,
            flags TEXT NOT NULL,
            cond TEXT NOT NULL,
            value TEXT,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX alarms_rule ON alarms(rule_id);
        CREATE TABLE alarm_journal(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts INTEGER NOT NULL,
            alarm_id TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            asset TEXT NOT NULL,
            tag TEXT NOT NULL,
            priority TEXT NOT NULL,
            event TEXT NOT NULL,
            from_state TEXT NOT NULL,
            to_state TEXT NOT NULL,
            user_name TEXT NOT NULL DEFAULT '',
            comment TEXT NOT NULL DEFAULT '',
            value TEXT,
            message TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX alarm_journal_ts ON alarm_journal(ts);
        CREATE INDEX alarm_journal_alarm_ts ON alarm_journal(alarm_id, ts)
        """,
    ),
    Migration(
        3,
        "maintenance work orders",
        """
        CREATE TABLE work_orders(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            asset TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL,
            planned_start INTEGER,
            duration_h INTEGER NOT NULL,
            technicians INTEGER NOT NULL,
            failure_probability REAL NOT NULL DEFAULT 0,
            expected_cost REAL NOT NULL DEFAULT 0,
            plan_id TEXT NOT NULL DEFAULT '',
            created_by TEXT NOT NULL DEFAULT '',
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            note TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX work_orders_asset ON work_orders(asset, state)
        """,
    ),
    # --- commands (issue 7): setpoint commands and their audit trail (rules/commands/store.py) ---
    Migration(
        4,
        "setpoint commands and their audit trail",
        """
        CREATE TABLE commands(
            id TEXT PRIMARY KEY,
            asset TEXT NOT NULL,
            tag TEXT NOT NULL,
            value TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL,
            critical INTEGER NOT NULL DEFAULT 0,
            requested_by TEXT NOT NULL,
            approved_by TEXT NOT NULL DEFAULT '',
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            result TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX commands_created ON commands(created_at);
        CREATE INDEX commands_asset ON commands(asset, created_at);
        CREATE TABLE command_audit(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            command_id TEXT NOT NULL,
            ts INTEGER NOT NULL,
            from_state TEXT NOT NULL,
            to_state TEXT NOT NULL,
            user_name TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX command_audit_cmd ON command_audit(command_id, id)
        """,
    ),
    # --- end commands ---
]


def payload_view(payload: bytes) -> tuple[str, bool]:
    """A payload as text when it is valid UTF-8, else base64: ``(text, is_base64)``.

    >>> payload_view(b"{not json"), payload_view(b"\\xff\\x00")
    (('{not json', False), ('/wA=', True))
    """
    try:
        return payload.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(payload).decode("ascii"), True


class StateStore:
    """Relational state in one SQLite file; see the module docstring."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._con: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._mutex = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Open or create the file and apply pending migrations (raises StoreUnavailable)."""
        async with self._lock:
            await asyncio.to_thread(self._open)

    def _open(self) -> None:
        with self._mutex:
            if self._con is not None:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                con = sqlite3.connect(
                    self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
                )
            except (OSError, sqlite3.Error) as err:
                raise StoreUnavailable(f"cannot open state store {str(self.path)!r}: {err}") from err
            try:
                enable_wal(con, self.busy_timeout_s)
                con.execute("PRAGMA synchronous=NORMAL")
                con.execute("PRAGMA foreign_keys=ON")
                applied = migrate(con, MIGRATIONS)
            except (sqlite3.Error, RuntimeError) as err:
                con.close()
                raise StoreUnavailable(f"cannot prepare state store {str(self.path)!r}: {err}") from err
            if applied:
                log.info("state store %s: applied migrations %s", self.path, applied)
            self._con = con

    async def close(self) -> None:
        """Close the file; safe to call twice."""
        async with self._lock:
            await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._mutex:
            con, self._con = self._con, None
            if con is not None:
                con.close()

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = False) -> T:
        """Run ``fn(connection)`` in a worker thread; in one transaction when ``write``.

        The building block for later features' queries: errors are translated, the
        transaction is rolled back if ``fn`` raises.
        """
        async with self._lock:
            return await asyncio.to_thread(self._call, fn, write)

    def _call(self, fn: Callable[[sqlite3.Connection], T], write: bool) -> T:
        with self._mutex:
            con = self._con
            if con is None:
                raise StoreUnavailable(f"state store {str(self.path)!r} is not open")
            try:
                if not write:
                    return fn(con)
                con.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(con)
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
                return result
            except sqlite3.OperationalError as err:
                if "locked" in str(err) or "busy" in str(err):
                    raise StoreUnavailable(
                        f"state store {str(self.path)!r} is busy (another process holds a write lock): {err}"
                    ) from err
                raise StoreError(f"state store {str(self.path)!r}: {err}") from err
            except sqlite3.Error as err:
                raise StoreError(f"state store {str(self.path)!r}: {err}") from err

    # -- dead letters ------------------------------------------------------------------------

    async def add_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Keep rejected inputs (one transaction); returns the number added."""
        if not letters:
            return 0
        rows = [(d.ts, d.source, d.topic, d.reason, d.error, bytes(d.payload)) for d in letters]

        def add(con: sqlite3.Connection) -> int:
            con.executemany(
                "INSERT INTO dead_letters(ts, source, topic, reason, error, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            return len(rows)

        return await self.run(add, write=True)

    async def dead_letters(
        self, limit: int = 100, reason: str | None = None, since: int | None = None
    ) -> list[dict[str, Any]]:
        """Dead letters, newest first, optionally of one reason and from ``since`` (epoch ns).

        Each is a dict with ``id, ts, source, topic, reason, error, payload`` (text when the
        payload is valid UTF-8, else base64), ``payload_base64`` and ``payload_bytes``.
        """
        where: list[str] = []
        params: list[str | int] = []
        if reason is not None:
            where.append("reason = ?")
            params.append(reason)
        if since is not None:
            where.append("ts >= ?")
            params.append(int(since))
        sql = "SELECT id, ts, source, topic, reason, error, payload FROM dead_letters"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts DESC, id DESC LIMIT ?"
        params.append(max(0, int(limit)))
        rows = await self.run(lambda con: con.execute(sql, params).fetchall())
        out = []
        for id_, ts, source, topic, reason_, error, payload in rows:
            text, is_b64 = payload_view(bytes(payload))
            out.append(
                {
                    "id": id_,
                    "ts": ts,
                    "source": source,
                    "topic": topic,
                    "reason": reason_,
                    "error": error,
                    "payload": text,
                    "payload_base64": is_b64,
                    "payload_bytes": len(payload),
                }
            )
        return out

    async def dead_letter_counts(self) -> dict[str, int]:
        """Number of kept dead letters per reason."""
        sql = "SELECT reason, count(*) FROM dead_letters GROUP BY reason ORDER BY reason"
        rows = await self.run(lambda con: con.execute(sql).fetchall())
        return {reason: int(n) for reason, n in rows}

    async def prune_dead_letters(self, keep: int) -> int:
        """Delete all but the ``keep`` newest dead letters; returns the number deleted."""
        if keep < 0:
            raise StoreError(f"keep must not be negative, got {keep}")

        def prune(con: sqlite3.Connection) -> int:
            cur = con.execute(
                "DELETE FROM dead_letters WHERE id NOT IN"
                " (SELECT id FROM dead_letters ORDER BY ts DESC, id DESC LIMIT ?)",
                (keep,),
            )
            return cur.rowcount

        deleted = await self.run(prune, write=True)
        if deleted:
            log.info("pruned %d dead letters (kept the newest %d)", deleted, keep)
        return deleted
