"""StateStore: dead letters, migrations, and a second connection while the first writes."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from pathlib import Path

import pytest

from shopfloor.core.errors import StoreError, StoreUnavailable
from shopfloor.core.sample import DeadLetter
from shopfloor.store.migrate import Migration, current_version, migrate
from shopfloor.store.state import MIGRATIONS, StateStore

T0 = 1_699_999_200_000_000_000


def letter(i: int, reason: str = "malformed", payload: bytes = b"{not json") -> DeadLetter:
    return DeadLetter(T0 + i, "mqtt", f"shopfloor/v1/m{i}/data", reason, f"error {i}", payload)


async def test_add_list_newest_first_with_payloads(state: StateStore) -> None:
    assert await state.add_dead_letters([letter(1), letter(3, "unknown_tag", b"\xff\xfe"), letter(2)]) == 3
    assert await state.add_dead_letters([]) == 0
    items = await state.dead_letters()
    assert [i["ts"] for i in items] == [T0 + 3, T0 + 2, T0 + 1]
    binary, text = items[0], items[1]
    assert binary["payload_base64"] is True and base64.b64decode(binary["payload"]) == b"\xff\xfe"
    assert text["payload"] == "{not json" and text["payload_base64"] is False and text["payload_bytes"] == 9
    assert text == {
        **text,
        "source": "mqtt",
        "topic": "shopfloor/v1/m2/data",
        "reason": "malformed",
        "error": "error 2",
    }


async def test_filter_count_and_prune(state: StateStore) -> None:
    await state.add_dead_letters([letter(i, "malformed" if i % 3 else "oversized") for i in range(30)])
    assert await state.dead_letter_counts() == {"malformed": 20, "oversized": 10}
    over = await state.dead_letters(reason="oversized")
    assert len(over) == 10 and {i["reason"] for i in over} == {"oversized"}
    assert [i["ts"] for i in await state.dead_letters(limit=2)] == [T0 + 29, T0 + 28]
    assert [i["ts"] for i in await state.dead_letters(since=T0 + 27)] == [T0 + 29, T0 + 28, T0 + 27]
    assert len(await state.dead_letters(reason="oversized", since=T0 + 20)) == 3
    assert await state.prune_dead_letters(keep=5) == 25
    assert [i["ts"] for i in await state.dead_letters()] == [T0 + 29 - k for k in range(5)]
    assert await state.prune_dead_letters(keep=5) == 0
    with pytest.raises(StoreError):
        await state.prune_dead_letters(keep=-1)


async def test_second_connection_reads_while_first_writes(state: StateStore) -> None:
    other = sqlite3.connect(state.path, timeout=5, check_same_thread=False)

    def count() -> int:
        return int(other.execute("SELECT count(*) FROM dead_letters").fetchone()[0])

    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    seen = []
    for k in range(5):
        writing = asyncio.create_task(state.add_dead_letters([letter(k * 100 + i) for i in range(100)]))
        seen.append(await asyncio.to_thread(count))  # reads during or after the write, never blocks
        await writing
    assert seen == sorted(seen) and count() == 500
    other.execute(
        "INSERT INTO dead_letters(ts, source, topic, reason, error, payload)"
        " VALUES (1, 'cli', 't', 'manual', 'e', x'00')"
    )
    other.commit()
    assert (await state.dead_letter_counts())["manual"] == 1
    other.close()


async def test_reopen_keeps_data_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = StateStore(path)
    await first.open()
    await first.add_dead_letters([letter(1)])
    await first.close()
    await first.close()
    second = StateStore(path)
    await second.open()
    assert len(await second.dead_letters()) == 1
    assert await second.run(current_version) == MIGRATIONS[-1].version
    await second.close()
    with pytest.raises(StoreUnavailable):
        await second.dead_letters()


async def test_not_a_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreUnavailable):
        await StateStore(path).open()


def test_migrations_apply_once_in_order_and_roll_back_on_error() -> None:
    con = sqlite3.connect(":memory:", isolation_level=None)
    steps = [
        Migration(1, "a", "CREATE TABLE a(x INTEGER)"),
        Migration(2, "b", "CREATE TABLE b(y INTEGER); CREATE INDEX b_y ON b(y)"),
    ]
    assert migrate(con, steps) == [1, 2] and migrate(con, steps) == []
    broken = [*steps, Migration(3, "c", "CREATE TABLE c(z INTEGER); CREATE TABLE a(x INTEGER)")]
    with pytest.raises(sqlite3.OperationalError):
        migrate(con, broken)
    assert current_version(con) == 2
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'c'").fetchone()[0] == 0
    with pytest.raises(ValueError):
        migrate(con, [steps[1], steps[0]])
    with pytest.raises(RuntimeError):
        migrate(con, steps[:1])


async def test_readers_are_not_blocked_by_an_open_write_transaction(state: StateStore) -> None:
    import threading

    await state.add_dead_letters([letter(1)])
    other = sqlite3.connect(state.path, timeout=0.5, check_same_thread=False)
    inside, release = threading.Event(), threading.Event()

    def slow_write(con: sqlite3.Connection) -> int:
        con.execute(
            "INSERT INTO dead_letters(ts, source, topic, reason, error, payload)"
            " VALUES (2, 's', 't', 'r', 'e', x'')"
        )
        inside.set()
        release.wait(5)
        return 1

    writing = asyncio.create_task(state.run(slow_write, write=True))
    assert await asyncio.to_thread(inside.wait, 5)
    # mid-transaction: the other connection reads the committed state at once
    assert other.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 1
    release.set()
    await writing
    assert other.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 2
    other.close()


def test_two_processes_migrating_a_new_file_at_once(tmp_path: Path) -> None:
    """A worker and a CLI command opening a new state file together: each step applied once."""
    import subprocess
    import sys

    path = tmp_path / "state.db"
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from shopfloor.store.state import StateStore\n"
        "async def main():\n"
        "    s = StateStore(Path(sys.argv[1]))\n"
        "    await s.open()\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE) for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
