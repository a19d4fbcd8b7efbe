"""Tamper-evident usage records: an append-only SHA-256 hash chain in SQLite.

Every record holds the hash of the one before it, and its own hash covers its sequence number,
its content and that previous hash (canonical JSON, sorted keys). :func:`verify` walks the chain:
a changed field breaks the record's hash, a deleted record leaves a gap in the sequence and a
previous-hash mismatch, records put in another order break the links. Deleting records at the
end cannot be seen from the chain alone: keep the :meth:`Ledger.head` (sequence and hash) on a
statement or elsewhere and pass it to :func:`verify` as ``anchor``.

>>> a = seal(1, GENESIS, {"contract": "c1", "quantity": 2.5})
>>> b = seal(2, a.hash, {"contract": "c1", "quantity": 1.0})
>>> verify([a, b]).ok, verify([b, a]).ok
(True, False)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import StoreUnavailable

GENESIS = "0" * 64

_DDL = (
    "CREATE TABLE IF NOT EXISTS usage(seq INTEGER PRIMARY KEY, prev TEXT NOT NULL, hash TEXT NOT NULL,"
    " body TEXT NOT NULL)",
)


@dataclass(frozen=True, slots=True)
class Record:
    """One usage record: ``body`` holds contract, asset, metric, period, quantity, when recorded."""

    seq: int
    prev: str
    hash: str
    body: dict[str, Any]


def digest(seq: int, prev: str, body: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of sequence, previous hash and body."""
    text = json.dumps({"seq": seq, "prev": prev, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def seal(seq: int, prev: str, body: dict[str, Any]) -> Record:
    return Record(seq, prev, digest(seq, prev, body), body)


@dataclass
class Verification:
    ok: bool = True
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    def fail(self, text: str) -> None:
        self.ok = False
        self.problems.append(text)


def verify(records: Sequence[Record], anchor: tuple[int, str] | None = None) -> Verification:
    """Check a whole chain (records in stored order) and optionally its known head."""
    out = Verification(checked=len(records))
    prev_hash, prev_seq = GENESIS, 0
    for r in records:
        if r.seq != prev_seq + 1:
            out.fail(f"record {r.seq}: expected sequence {prev_seq + 1} (deleted or reordered records)")
        if r.prev != prev_hash:
            out.fail(
                f"record {r.seq}: link to the previous record broken (one before it changed, went or moved)"
            )
        if digest(r.seq, r.prev, r.body) != r.hash:
            out.fail(f"record {r.seq}: content does not match its hash (modified)")
        prev_hash, prev_seq = r.hash, r.seq
    if anchor is not None and (prev_seq, prev_hash) != tuple(anchor):
        out.fail(
            f"chain ends at record {prev_seq}, but the anchor says {anchor[0]} (records removed at the end?)"
        )
    return out


class Ledger:
    """The usage chain in one SQLite file (default ``data/metering.db``), async via threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._con: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            for ddl in _DDL:
                con.execute(ddl)
        except (OSError, sqlite3.Error) as err:
            raise StoreUnavailable(f"cannot open metering ledger {str(self.path)!r}: {err}") from err
        self._con = con

    async def open(self) -> Ledger:
        await asyncio.to_thread(self._open)
        return self

    async def close(self) -> None:
        if self._con is not None:
            con, self._con = self._con, None
            await asyncio.to_thread(con.close)

    def _db(self) -> sqlite3.Connection:
        if self._con is None:
            raise StoreUnavailable(f"metering ledger {str(self.path)!r} is not open")
        return self._con

    def _append(self, bodies: Sequence[dict[str, Any]]) -> list[Record]:
        con = self._db()
        out = []
        con.execute("BEGIN IMMEDIATE")
        try:
            row = con.execute("SELECT seq, hash FROM usage ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0], row[1]) if row else (0, GENESIS)
            for body in bodies:
                seq += 1
                rec = seal(seq, prev, json.loads(json.dumps(body)))
                con.execute(
                    "INSERT INTO usage(seq, prev, hash, body) VALUES (?, ?, ?, ?)",
                    (rec.seq, rec.prev, rec.hash, json.dumps(rec.body, sort_keys=True)),
                )
                out.append(rec)
                prev = rec.hash
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return out

    async def append(self, *bodies: dict[str, Any]) -> list[Record]:
        """Append records in one transaction; returns them sealed."""
        async with self._lock:
            return await asyncio.to_thread(self._append, bodies)

    def _all(self) -> list[Record]:
        rows = self._db().execute("SELECT seq, prev, hash, body FROM usage ORDER BY rowid").fetchall()
        return [Record(s, p, h, json.loads(b)) for s, p, h, b in rows]

    async def records(self, contract: str | None = None) -> list[Record]:
        """All records in stored order (of one contract if given)."""
        async with self._lock:
            rows = await asyncio.to_thread(self._all)
        return rows if contract is None else [r for r in rows if r.body.get("contract") == contract]

    async def head(self) -> tuple[int, str]:
        rows = await self.records()
        return (rows[-1].seq, rows[-1].hash) if rows else (0, GENESIS)

    async def verify(self, anchor: tuple[int, str] | None = None) -> Verification:
        return verify(await self.records(), anchor)
