"""The hash-chained audit log detects modified, deleted, inserted and reordered records."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shopfloor.security.audit import AuditLog
from shopfloor.security.db import SecurityDB


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    db = SecurityDB(tmp_path / "security.db")
    db.open_sync()
    audit = AuditLog(db)
    for i in range(1, 6):
        audit.append(f"user{i}", "login", f"user{i}", detail={"client": f"10.0.0.{i}"})
    return audit


def tamper(log: AuditLog, sql: str) -> None:
    """Change the file behind the log's back, as an attacker with file access would."""
    con = sqlite3.connect(log.db.path, isolation_level=None)
    con.execute(sql)
    con.close()


def test_intact_chain_verifies(log: AuditLog) -> None:
    result = log.verify()
    assert result.ok and result.records == 5 and result.problems == []


def test_modified_record(log: AuditLog) -> None:
    tamper(log, "UPDATE audit SET actor='mallory' WHERE seq=3")
    assert log.verify().problems == ["record 3: modified (hash does not match its content)"]


def test_modified_detail_and_rehashed_record_breaks_the_next_link(log: AuditLog) -> None:
    # the attacker recomputes record 3's own hash: record 4 no longer follows it
    from shopfloor.security.audit import _digest

    row = log.db.call(lambda c: c.execute("SELECT * FROM audit WHERE seq=3").fetchone())
    seq, ts, actor, action, target, outcome, _detail, prev, _h = row
    forged = _digest(prev, seq, ts, actor, action, target, outcome, "{}")
    tamper(log, f"UPDATE audit SET detail='{{}}', hash='{forged}' WHERE seq=3")
    problems = log.verify().problems
    assert problems and problems[0].startswith("record 4: does not follow record 3")


def test_deleted_record(log: AuditLog) -> None:
    tamper(log, "DELETE FROM audit WHERE seq=2")
    problems = log.verify().problems
    assert problems == ["record 3: expected record 2 here (records deleted)"]


def test_deleted_tail_is_caught_by_the_head_file(log: AuditLog) -> None:
    tamper(log, "DELETE FROM audit WHERE seq>=4")
    assert log.verify().problems == ["records 4..5: deleted from the end (head file names 5)"]


def test_reordered_records(log: AuditLog) -> None:
    # swap the contents of records 2 and 4, keeping their positions
    tamper(log, "UPDATE audit SET seq=-2 WHERE seq=2")
    tamper(log, "UPDATE audit SET seq=2 WHERE seq=4")
    tamper(log, "UPDATE audit SET seq=4 WHERE seq=-2")
    result = log.verify()
    assert not result.ok
    assert any(p.startswith("record 2:") for p in result.problems)
    assert any(p.startswith("record 4:") for p in result.problems)


def test_inserted_record(log: AuditLog) -> None:
    tamper(log, "UPDATE audit SET seq=-seq WHERE seq>=3")  # make room...
    tamper(log, "UPDATE audit SET seq=1-seq WHERE seq<0")
    tamper(log, "INSERT INTO audit VALUES (3, 0, 'x', 'login', 'x', 'ok', '{}', 'bogus', 'bogus')")
    problems = log.verify().problems
    assert any(p.startswith("record 3:") for p in problems)


def test_appending_continues_the_chain_and_records_are_listed(log: AuditLog) -> None:
    log.append("admin", "device.provision", "cutter-1", detail={"topic_prefix": "a/b"})
    assert log.verify().ok
    newest = log.records(limit=1)[0]
    assert newest["seq"] == 6 and newest["detail"] == {"topic_prefix": "a/b"}
    assert [r["seq"] for r in log.records(action="login")] == [5, 4, 3, 2, 1]
