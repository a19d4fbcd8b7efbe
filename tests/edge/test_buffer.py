"""The store-and-forward buffer: durable order, acknowledgement, and the bounded-size policy."""

from __future__ import annotations

from pathlib import Path

from shopfloor.edge.buffer import Buffer


def _rows(n: int, series: int = 4, t0: int = 0) -> list:
    return [("s/a/l/m", f"t{i % series}", t0 + i, float(i), 192) for i in range(n)]


def test_order_ack_and_reopen(tmp_path: Path) -> None:
    b = Buffer(tmp_path / "b.db")
    b.open()
    epoch = b.epoch()
    last = b.append(_rows(10))
    assert last == 10
    assert [r.seq for r in b.read(0, 100)] == list(range(1, 11))
    assert b.ack(4) == 4
    b.append([("s/a/l/m", "flag", 99, True, 64), ("s/a/l/m", "mode", 100, "run", 192)])
    b.close()
    b = Buffer(tmp_path / "b.db")  # a restart: same file, same numbering, same epoch
    b.open()
    recs = b.read(0, 100)
    assert [r.seq for r in recs] == [5, 6, 7, 8, 9, 10, 11, 12]
    assert (recs[-2].value, recs[-2].quality, recs[-1].value) == (True, 64, "run")
    assert b.epoch() == epoch
    b.ack(12)
    assert b.append(_rows(1)) == 13  # sequence numbers are never reused
    b.close()


def test_full_buffer_thins_the_oldest_and_counts_it(tmp_path: Path) -> None:
    b = Buffer(tmp_path / "b.db", max_bytes=256 * 1024)
    b.open()
    for k in range(60):
        b.append(_rows(500, t0=k * 500))
    st = b.stats()
    assert st["full"] is True
    assert st["bytes"] <= 256 * 1024 + 64 * 1024
    assert st["downsampled"] > 0 and st["dropped"] == 0
    assert st["depth"] + st["downsampled"] == 60 * 500  # every removed row is counted
    recs = b.read(0, 10**6)
    newest = [r.ts for r in recs if r.ts >= 59 * 500]
    assert newest == list(range(59 * 500, 60 * 500))  # the newest data is untouched
    oldest_gap = recs[4].ts - recs[0].ts
    assert oldest_gap > 4  # the oldest data lost resolution, not coverage
    assert recs[0].ts < 100
    b.ack(recs[-1].seq)
    b.append(_rows(10))
    assert b.stats()["full"] is False
    b.close()


def test_recent_rows_from_memory_match_the_file(tmp_path: Path) -> None:
    b = Buffer(tmp_path / "b.db")
    b.open()
    assert b.read_recent(0, 10) is None  # nothing known yet: read the file
    for k in range(5):
        b.append(_rows(100, t0=k * 100))
    for after, limit in ((0, 50), (120, 1000), (499, 10), (500, 10)):
        assert b.read_recent(after, limit) == b.read(after, limit)
    b.ack(250)
    assert b.read_recent(250, 1000) == b.read(250, 1000)
    b.close()
    b = Buffer(tmp_path / "b.db")  # after a restart the memory copy is empty: the file serves
    b.open()
    assert b.read_recent(250, 10) is None
    b.append(_rows(3, t0=1000))
    assert b.read_recent(250, 10) is None  # rows 251.. are older than this process's appends
    assert b.read_recent(500, 10) == b.read(500, 10)
    b.close()
