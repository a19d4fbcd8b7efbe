"""The audit log: append-only and hash-chained, so any change to its past shows.

Each record holds ``(seq, ts, actor, action, target, outcome, detail)``, the hash of the record
before it and its own hash: ``sha256(prev_hash + canonical JSON of the record)``. The newest
``(seq, hash)`` is also written to a head file next to the database, so cutting records off
the end shows too. :meth:`AuditLog.verify` (``shopfloor audit verify``) recomputes the chain and
names every modified, deleted, inserted or reordered record.

What is audited: logins (success and failure), lockouts, user and token changes, device
provisioning and revocation, PKI operations; other capabilities call :func:`record` (or
``platform.audit.record``) for commands, rule, model and loop changes.

>>> import tempfile, pathlib
>>> from shopfloor.security.db import SecurityDB
>>> d = pathlib.Path(tempfile.mkdtemp()); db = SecurityDB(d / "s.db"); db.open_sync()
>>> log = AuditLog(db)
>>> _ = log.append("alice", "login", "alice")
>>> _ = log.append("alice", "rule.change", "r1", detail={"limit": 3})
>>> log.verify().ok
True
>>> _ = db.call(lambda c: c.execute("UPDATE audit SET target='r2' WHERE seq=2"), write=True)
>>> log.verify().problems
['record 2: modified (hash does not match its content)']
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .db import SecurityDB

log = logging.getLogger(__name__)

GENESIS = "0" * 64


def _digest(
    prev_hash: str, seq: int, ts: int, actor: str, action: str, target: str, outcome: str, detail: str
) -> str:
    body = json.dumps(
        [seq, ts, actor, action, target, outcome, detail], separators=(",", ":"), ensure_ascii=True
    )
    return hashlib.sha256((prev_hash + body).encode("ascii")).hexdigest()


@dataclass
class VerifyResult:
    ok: bool
    records: int
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "problems": self.problems}


class AuditLog:
    """The hash-chained audit log in the security database."""

    def __init__(self, db: SecurityDB, head_path: Path | None = None) -> None:
        self.db = db
        self.head_path = head_path if head_path is not None else db.path.with_name("audit.head")

    def _append(
        self,
        con: sqlite3.Connection,
        actor: str,
        action: str,
        target: str,
        outcome: str,
        detail: dict[str, Any],
    ) -> dict[str, Any]:
        row = con.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (int(row[0]) + 1, str(row[1])) if row else (1, GENESIS)
        ts = time.time_ns()
        text = json.dumps(detail, sort_keys=True, default=str, separators=(",", ":"))
        digest = _digest(prev, seq, ts, actor, action, target, outcome, text)
        con.execute(
            "INSERT INTO audit(seq, ts, actor, action, target, outcome, detail, prev_hash, hash) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (seq, ts, actor, action, target, outcome, text, prev, digest),
        )
        return {"seq": seq, "ts": ts, "hash": digest}

    def append(
        self,
        actor: str,
        action: str,
        target: str = "",
        outcome: str = "ok",
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one record (blocking); returns its ``seq``, ``ts`` and ``hash``."""
        out = self.db.call(
            lambda c: self._append(c, actor, action, target, outcome, detail or {}), write=True
        )
        self._write_head(out["seq"], out["hash"])
        return out

    async def record(
        self,
        actor: str,
        action: str,
        target: str = "",
        outcome: str = "ok",
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one record from async code (e.g. ``await audit.record(user, "command.send", tag)``)."""
        return await asyncio.to_thread(self.append, actor, action, target, outcome, detail)

    def _write_head(self, seq: int, digest: str) -> None:
        try:
            tmp = self.head_path.with_suffix(".tmp")
            tmp.write_text(f"{seq} {digest}\n", encoding="ascii")
            tmp.replace(self.head_path)
        except OSError as err:  # the chain itself is intact; only truncation checks weaken
            log.warning("cannot write audit head %s: %s", self.head_path, err)

    def records(self, limit: int = 100, action: str | None = None) -> list[dict[str, Any]]:
        """Newest records first."""
        sql = "SELECT seq, ts, actor, action, target, outcome, detail, hash FROM audit"
        args: list[Any] = []
        if action:
            sql += " WHERE action = ?"
            args.append(action)
        sql += " ORDER BY seq DESC LIMIT ?"
        args.append(limit)
        rows = self.db.call(lambda c: c.execute(sql, args).fetchall())
        keys = ("seq", "ts", "actor", "action", "target", "outcome", "detail", "hash")
        out = []
        for r in rows:
            item = dict(zip(keys, r, strict=True))
            item["detail"] = json.loads(item["detail"])
            out.append(item)
        return out

    def verify(self) -> VerifyResult:
        """Recompute the chain; every problem is named with its record number."""
        rows = self.db.call(
            lambda c: c.execute(
                "SELECT seq, ts, actor, action, target, outcome, detail, prev_hash, hash "
                "FROM audit ORDER BY rowid"
            ).fetchall()
        )
        problems: list[str] = []
        prev, expect = GENESIS, 1
        for seq, ts, actor, action, target, outcome, detail, prev_hash, digest in rows:
            if seq != expect:
                what = "deleted" if seq > expect else "reordered or duplicated"
                problems.append(f"record {seq}: expected record {expect} here (records {what})")
            elif prev_hash != prev:
                problems.append(
                    f"record {seq}: does not follow record {seq - 1} (chain broken: inserted or reordered)"
                )
            if _digest(prev_hash, seq, ts, actor, action, target, outcome, detail) != digest:
                problems.append(f"record {seq}: modified (hash does not match its content)")
            prev, expect = digest, seq + 1
        head = self._read_head()
        if head is not None:
            head_seq, head_hash = head
            if head_seq > expect - 1:
                problems.append(
                    f"records {expect}..{head_seq}: deleted from the end (head file names {head_seq})"
                )
            elif head_seq == expect - 1 and rows and head_hash != prev:
                problems.append(f"record {head_seq}: differs from the head file's hash")
        return VerifyResult(ok=not problems, records=len(rows), problems=problems)

    def _read_head(self) -> tuple[int, str] | None:
        try:
            seq, digest = self.head_path.read_text(encoding="ascii").split()
            return int(seq), digest
        except (OSError, ValueError):
            return None


_default: AuditLog | None = None


def install(audit_log: AuditLog | None) -> None:
    """Make ``audit_log`` the one :func:`record` writes to (the platform does this at start)."""
    global _default
    _default = audit_log


async def record(
    actor: str, action: str, target: str = "", outcome: str = "ok", detail: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Append to the platform's audit log; logs a warning and returns None when none is running."""
    if _default is None:
        log.warning("audit record %s %s %s dropped: no audit log installed", actor, action, target)
        return None
    return await _default.record(actor, action, target, outcome, detail)
