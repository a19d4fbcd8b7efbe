"""Numbered schema migrations for SQLite files.

A migration is ``(version, name, sql)``; :func:`migrate` applies, in order and each in its own
transaction, those newer than the version recorded in the file's ``schema_version`` table.
Later features add tables by appending a migration with the next number; never edit one
that has shipped.

>>> import sqlite3
>>> con = sqlite3.connect(":memory:", isolation_level=None)
>>> steps = [Migration(1, "notes", "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")]
>>> migrate(con, steps), migrate(con, steps), current_version(con)
([1], [], 1)
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import NamedTuple


class Migration(NamedTuple):
    """One schema step: ``sql`` may hold several statements separated by semicolons."""

    version: int
    name: str
    sql: str


_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
)


def current_version(con: sqlite3.Connection) -> int:
    """The newest applied migration (0 for a new file)."""
    con.execute(_TABLE)
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: sqlite3.Connection, migrations: Sequence[Migration]) -> list[int]:
    """Apply the pending migrations; returns the versions applied.

    Each step runs in its own write transaction and re-checks the version inside it, so two
    processes opening a new file at once (a worker and an admin command) apply it once.

    ``con`` must be in autocommit mode (``isolation_level=None``); raises ValueError when the
    list is not strictly increasing, RuntimeError when the file is newer than the code.
    """
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError(f"migration versions must be unique and increasing, got {versions}")
    have = current_version(con)
    if versions and have > versions[-1]:
        raise RuntimeError(f"schema version {have} is newer than this shopfloor knows ({versions[-1]})")
    applied = []
    for m in migrations:
        if m.version <= have:
            continue
        con.execute("BEGIN IMMEDIATE")
        try:
            if current_version(con) >= m.version:  # another process applied it while we waited
                con.execute("COMMIT")
                continue
            for statement in _statements(m.sql):
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_version(version, name, applied_at) VALUES (?, ?, ?)",
                (m.version, m.name, time.time_ns()),
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(m.version)
    return applied


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


def enable_wal(con: sqlite3.Connection, timeout_s: float) -> None:
    """Switch to WAL mode. The switch needs the file to itself and does not wait for the busy
    timeout, so a process opening a new file while another one does retries for a while."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            con.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
