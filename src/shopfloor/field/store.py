"""SQLite storage of the field: feedback texts (read), rejected input, spike alarms, units in
the field and batch profiles (genealogy). One file, WAL mode; ``":memory:"`` for a scratch one.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import StoreUnavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY, ts_ns INTEGER NOT NULL, channel TEXT, customer TEXT, text TEXT NOT NULL,
    topic TEXT, complaint INTEGER, sentiment TEXT, sentiment_score REAL, urgency TEXT,
    urgency_score REAL, models TEXT, serials TEXT, batches TEXT);
CREATE INDEX IF NOT EXISTS feedback_ts ON feedback(ts_ns);
CREATE TABLE IF NOT EXISTS rejected (id INTEGER PRIMARY KEY, ts_ns INTEGER, reason TEXT, raw TEXT);
CREATE TABLE IF NOT EXISTS alarms (id INTEGER PRIMARY KEY, topic TEXT, ts_ns INTEGER, count INTEGER,
    expected REAL, p_value REAL, window_s REAL);
CREATE TABLE IF NOT EXISTS units (serial TEXT PRIMARY KEY, batch TEXT, model TEXT, customer TEXT,
    ship_ns INTEGER, usage_hours REAL, failed INTEGER, failure_ns INTEGER, failure_mode TEXT);
CREATE TABLE IF NOT EXISTS batches (batch TEXT PRIMARY KEY, profile TEXT NOT NULL);
"""

FEEDBACK_COLS = (
    "ts_ns",
    "channel",
    "customer",
    "text",
    "topic",
    "complaint",
    "sentiment",
    "sentiment_score",
    "urgency",
    "urgency_score",
    "models",
    "serials",
    "batches",
)
UNIT_COLS = (
    "serial",
    "batch",
    "model",
    "customer",
    "ship_ns",
    "usage_hours",
    "failed",
    "failure_ns",
    "failure_mode",
)
_JSON = {"models", "serials", "batches"}


class FieldStore:
    """Field records in SQLite (thread-safe: one connection behind a lock)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        try:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as err:
            raise StoreUnavailable(f"field store {path}: {err}") from err
        self._lock = threading.Lock()
        self.path = path

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, rows: Iterable[Sequence[Any]] | None = None) -> list[tuple[Any, ...]]:
        try:
            with self._lock, self._db:
                if rows is not None:
                    self._db.executemany(sql, rows)
                    return []
                return self._db.execute(sql).fetchall()
        except sqlite3.Error as err:
            raise StoreUnavailable(f"field store {self.path}: {err}") from err

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as err:
            raise StoreUnavailable(f"field store {self.path}: {err}") from err

    # feedback -----------------------------------------------------------------------------
    def add_feedback(self, rows: Sequence[dict[str, Any]]) -> None:
        self._exec(
            f"INSERT INTO feedback ({', '.join(FEEDBACK_COLS)}) "
            f"VALUES ({', '.join('?' * len(FEEDBACK_COLS))})",
            [[json.dumps(r[c]) if c in _JSON else r[c] for c in FEEDBACK_COLS] for r in rows],
        )

    def feedback(
        self, topic: str | None = None, since_ns: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        where, args = [], []
        if topic:
            where.append("topic = ?")
            args.append(topic)
        if since_ns is not None:
            where.append("ts_ns >= ?")
            args.append(since_ns)
        sql = f"SELECT id, {', '.join(FEEDBACK_COLS)} FROM feedback"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        sql += " ORDER BY ts_ns DESC, id DESC LIMIT ?"
        out = []
        for row in self._query(sql, [*args, int(limit)]):
            d = dict(zip(("id", *FEEDBACK_COLS), row, strict=True))
            for c in _JSON:
                d[c] = json.loads(d[c] or "[]")
            d["complaint"] = bool(d["complaint"])
            out.append(d)
        return out

    def topic_counts(self) -> dict[str, int]:
        return dict(self._query("SELECT topic, count(*) FROM feedback GROUP BY topic ORDER BY 2 DESC"))

    def complaint_serials(self) -> list[list[str]]:
        return [
            json.loads(r[0] or "[]") for r in self._query("SELECT serials FROM feedback WHERE complaint = 1")
        ]

    def add_rejected(self, ts_ns: int, reason: str, raw: str) -> None:
        self._exec("INSERT INTO rejected (ts_ns, reason, raw) VALUES (?, ?, ?)", [(ts_ns, reason, raw)])

    def rejected(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._query("SELECT id, ts_ns, reason, raw FROM rejected ORDER BY id DESC LIMIT ?", [limit])
        return [dict(zip(("id", "ts_ns", "reason", "raw"), r, strict=True)) for r in rows]

    def add_alarm(self, a: dict[str, Any]) -> None:
        cols = ("topic", "ts_ns", "count", "expected", "p_value", "window_s")
        self._exec(
            f"INSERT INTO alarms ({', '.join(cols)}) VALUES (?, ?, ?, ?, ?, ?)", [[a[c] for c in cols]]
        )

    def alarms(self, limit: int = 100) -> list[dict[str, Any]]:
        cols = ("id", "topic", "ts_ns", "count", "expected", "p_value", "window_s")
        rows = self._query(f"SELECT {', '.join(cols)} FROM alarms ORDER BY ts_ns DESC LIMIT ?", [limit])
        return [dict(zip(cols, r, strict=True)) for r in rows]

    # units and genealogy ------------------------------------------------------------------
    def upsert_units(self, rows: Sequence[dict[str, Any]]) -> None:
        self._exec(
            f"INSERT OR REPLACE INTO units ({', '.join(UNIT_COLS)}) "
            f"VALUES ({', '.join('?' * len(UNIT_COLS))})",
            [[r.get(c) for c in UNIT_COLS] for r in rows],
        )

    def units(self) -> list[dict[str, Any]]:
        rows = self._query(f"SELECT {', '.join(UNIT_COLS)} FROM units ORDER BY serial")
        return [dict(zip(UNIT_COLS, r, strict=True)) for r in rows]

    def unit(self, serial: str) -> dict[str, Any] | None:
        rows = self._query(f"SELECT {', '.join(UNIT_COLS)} FROM units WHERE serial = ?", [serial])
        return dict(zip(UNIT_COLS, rows[0], strict=True)) if rows else None

    def upsert_batches(self, profiles: Sequence[dict[str, Any]]) -> None:
        self._exec(
            "INSERT OR REPLACE INTO batches (batch, profile) VALUES (?, ?)",
            [(p["batch"], json.dumps(p)) for p in profiles],
        )

    def batches(self) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self._query("SELECT profile FROM batches ORDER BY batch")]
