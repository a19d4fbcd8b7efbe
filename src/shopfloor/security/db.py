"""The security database: one SQLite file (default ``data/security.db``), separate from the state store.

Users, API tokens, dashboard sessions, devices and the audit chain live here, so a CLI admin
command (``shopfloor users add``, ``shopfloor devices revoke``) can change them while the platform
runs (WAL mode; the platform reads them per request, so changes take effect without a restart).
A separate file keeps the credentials out of backups and exports of operational state, and
lets its permissions be tightened (created ``0600``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..core.errors import StoreError, StoreUnavailable
from ..store.migrate import Migration, enable_wal, migrate

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "users, tokens, sessions, devices, audit chain",
        """
        CREATE TABLE users(
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            sites TEXT,
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            locked_until INTEGER NOT NULL DEFAULT 0,
            lockouts INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            last_login INTEGER
        );
        CREATE TABLE tokens(
            id TEXT PRIMARY KEY,
            secret_hash TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            owner TEXT NOT NULL,
            role TEXT NOT NULL,
            sites TEXT,
            scopes TEXT,
            created_at INTEGER NOT NULL,
            expires_at INTEGER,
            revoked INTEGER NOT NULL DEFAULT 0,
            last_used INTEGER
        );
        CREATE TABLE sessions(
            id_hash TEXT PRIMARY KEY,
            user_name TEXT NOT NULL,
            csrf TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        );
        CREATE INDEX sessions_user ON sessions(user_name);
        CREATE TABLE devices(
            id TEXT PRIMARY KEY,
            topic_prefix TEXT NOT NULL,
            site TEXT,
            token_hash TEXT,
            cert_serial TEXT,
            revoked INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            description TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE audit(
            seq INTEGER PRIMARY KEY,
            ts INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )
        """,
    ),
]


class SecurityDB:
    """The security SQLite file; calls run in a worker thread, one at a time."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._con: sqlite3.Connection | None = None
        self._mutex = threading.Lock()

    def open_sync(self) -> None:
        with self._mutex:
            if self._con is not None:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                new = not self.path.exists()
                con = sqlite3.connect(
                    self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
                )
                if new:
                    os.chmod(self.path, 0o600)
                enable_wal(con, 5.0)
                con.execute("PRAGMA synchronous=NORMAL")
                applied = migrate(con, MIGRATIONS)
            except (OSError, sqlite3.Error, RuntimeError) as err:
                raise StoreUnavailable(f"cannot open security database {str(self.path)!r}: {err}") from err
            if applied:
                log.info("security database %s: applied migrations %s", self.path, applied)
            self._con = con

    @property
    def is_open(self) -> bool:
        return self._con is not None

    async def open(self) -> None:
        await asyncio.to_thread(self.open_sync)

    def close_sync(self) -> None:
        with self._mutex:
            con, self._con = self._con, None
            if con is not None:
                con.close()

    async def close(self) -> None:
        await asyncio.to_thread(self.close_sync)

    def call(self, fn: Callable[[sqlite3.Connection], T], write: bool = False) -> T:
        """Run ``fn(connection)`` now (in one IMMEDIATE transaction when ``write``)."""
        with self._mutex:
            con = self._con
            if con is None:
                raise StoreUnavailable(f"security database {str(self.path)!r} is not open")
            try:
                if not write:
                    return fn(con)
                con.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(con)
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
                return out
            except sqlite3.OperationalError as err:
                raise StoreUnavailable(f"security database {str(self.path)!r}: {err}") from err
            except sqlite3.Error as err:
                raise StoreError(f"security database {str(self.path)!r}: {err}") from err

    async def run(self, fn: Callable[[sqlite3.Connection], T], write: bool = False) -> T:
        return await asyncio.to_thread(self.call, fn, write)
