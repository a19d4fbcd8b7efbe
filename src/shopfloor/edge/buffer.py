"""Durable store-and-forward buffer: one SQLite file in WAL mode.

Every value the agent keeps is appended here before it is sent; a row leaves only when the
uplink broker has acknowledged the batch that carried it (MQTT QoS 1 PUBACK). The row id is
the **per-agent sequence number** (``AUTOINCREMENT``: never reused, even after deletes), so a
batch that is sent twice (after a reconnect, or after a restart) carries the same numbers
and the platform drops what it already applied (:mod:`shopfloor.ingest.edge`).

fsync policy (``buffer.fsync``):

* ``"commit"`` (default): ``PRAGMA synchronous=FULL``; every append transaction is fsynced
  before ``append`` returns, so an appended value survives kill -9 and power loss. The agent
  appends in batches every ``buffer.flush_interval_s`` (default 0.02 s), so this costs at most
  one fsync per interval; values still in that interval's memory batch are what a crash can
  lose.
* ``"normal"``: ``PRAGMA synchronous=NORMAL``; survives kill -9 (the OS still holds the
  writes) but a power loss may lose the transactions since the last WAL checkpoint.

Full policy (``buffer.max_bytes``): when the live data exceeds the bound, the oldest 10% of
the rows are thinned by deleting every second row of each series in that slice (first and
last of each series kept), so old history loses resolution, not coverage, and the newest
data is untouched. Each thinned row is counted in ``downsampled``, the ``full`` flag (an
alarm in health) is raised until usage falls below 80%, and the event is logged. Only when
the oldest slice cannot be thinned further (one row per series) are its rows dropped,
counted in ``dropped`` and logged as an error. Nothing is ever removed without a count.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..core.errors import StoreError

log = logging.getLogger(__name__)

_KIND = {float: 0, int: 1, bool: 2, str: 3}
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS buf(seq INTEGER PRIMARY KEY AUTOINCREMENT, asset TEXT NOT NULL,"
    " tag TEXT NOT NULL, ts INTEGER NOT NULL, value, kind INTEGER NOT NULL, q INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)

Row = tuple[str, str, int, Any, int]  # asset, tag, ts, value, quality
TAIL = 20_000  # newest rows also kept in memory, so the forwarder rarely reads the file


@dataclass(slots=True, frozen=True)
class Record:
    """One buffered value with its sequence number."""

    seq: int
    asset: str
    tag: str
    ts: int
    value: Any
    quality: int


class EdgeBufferError(StoreError):
    """The on-disk buffer cannot be opened or written."""


class Buffer:
    """Append, read in order, acknowledge; blocking calls, the agent runs them in a thread."""

    def __init__(
        self, path: Path, max_bytes: int = 256 * 1024 * 1024, fsync: Literal["commit", "normal"] = "commit"
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._lock = threading.Lock()
        self._tail_lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.full = False
        self.appended = 0
        self.acked = 0
        self._last_stats: dict[str, Any] = {}
        self._tail: deque[Record] = deque(maxlen=TAIL)  # the newest appended rows, contiguous seqs
        self._last = -1  # highest seq appended by this process (-1: unknown, read the file)

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if self.fsync == 'commit' else 'NORMAL'}")
            for stmt in _SCHEMA:
                db.execute(stmt)
        except sqlite3.Error as err:
            raise EdgeBufferError(f"cannot open edge buffer {self.path}: {err}") from err
        self._db = db
        self._page = int(db.execute("PRAGMA page_size").fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            self.stats()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise EdgeBufferError(f"edge buffer {self.path} is not open")
        return self._db

    # -- writing ------------------------------------------------------------------------------

    def append(self, rows: list[Row]) -> int:
        """Append rows in one durable transaction; returns the last sequence number."""
        if not rows:
            return self.last_seq()
        data = [(a, t, ts, v, _KIND.get(type(v), 0), q) for a, t, ts, v, q in rows]
        with self._lock:
            db = self._conn()
            try:
                db.execute("BEGIN IMMEDIATE")
                db.executemany("INSERT INTO buf(asset, tag, ts, value, kind, q) VALUES (?,?,?,?,?,?)", data)
                last = int(db.execute("SELECT max(seq) FROM buf").fetchone()[0])
                db.execute("COMMIT")
            except sqlite3.Error as err:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise EdgeBufferError(f"cannot append to edge buffer {self.path}: {err}") from err
            self.appended += len(rows)
            first = last - len(data) + 1
            fresh = [
                Record(first + i, a, t, ts, _typed(v, k), q) for i, (a, t, ts, v, k, q) in enumerate(data)
            ]
            with self._tail_lock:
                self._last = last
                tail = self._tail
                if tail and tail[-1].seq != first - 1:
                    tail.clear()
                tail.extend(fresh)
            if self.used_bytes() > self.max_bytes:
                with self._tail_lock:
                    self._tail.clear()  # thinning removes rows: read them from the file again
                self._make_room(db)
            elif self.full and self.used_bytes() < 0.8 * self.max_bytes:
                self.full = False
                log.info("edge buffer %s is below 80%% of its bound again", self.path)
        return last

    def _make_room(self, db: sqlite3.Connection) -> None:
        """Thin (then, only if it cannot be thinned, drop) the oldest rows; see module docstring."""
        if not self.full:
            log.warning(
                "edge buffer %s is full (%d bytes): thinning the oldest data", self.path, self.max_bytes
            )
        self.full = True
        for _ in range(8):
            if self.used_bytes() <= self.max_bytes:
                return
            total = int(db.execute("SELECT count(*) FROM buf").fetchone()[0])
            if total == 0:
                return
            n = max(100, total // 10)
            rows = db.execute("SELECT seq, asset, tag FROM buf ORDER BY seq LIMIT ?", (n,)).fetchall()
            by_series: dict[tuple[str, str], list[int]] = {}
            for seq, asset, tag in rows:
                by_series.setdefault((asset, tag), []).append(seq)
            doomed = [s for seqs in by_series.values() for s in seqs[1:-1:2]]
            key = "downsampled"
            if not doomed:  # one or two rows per series: cannot thin, drop the slice (counted)
                doomed = [r[0] for r in rows]
                key = "dropped"
                log.error(
                    "edge buffer %s: dropping %d oldest rows that cannot be thinned", self.path, len(doomed)
                )
            db.execute("BEGIN IMMEDIATE")
            db.executemany("DELETE FROM buf WHERE seq = ?", [(s,) for s in doomed])
            db.execute(
                "INSERT INTO meta VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
                (key, len(doomed)),
            )
            db.execute("COMMIT")

    # -- reading and acknowledging ------------------------------------------------------------

    def read(self, after_seq: int, limit: int) -> list[Record]:
        """Up to ``limit`` records with ``seq > after_seq``, oldest first."""
        with self._lock:
            rows = (
                self._conn()
                .execute(
                    "SELECT seq, asset, tag, ts, value, kind, q FROM buf WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after_seq, limit),
                )
                .fetchall()
            )
        return [Record(s, a, t, ts, _typed(v, k), q) for s, a, t, ts, v, k, q in rows]

    def read_recent(self, after_seq: int, limit: int) -> list[Record] | None:
        """Like :meth:`read`, from the in-memory copy of the newest appends (no I/O), or None
        when the rows after ``after_seq`` are older than that copy (then use :meth:`read`)."""
        with self._tail_lock:  # never the file lock: this runs on the event loop
            if after_seq >= self._last >= 0:
                return []
            tail = self._tail
            if not tail or tail[0].seq > after_seq + 1:
                return None
            start = max(0, after_seq + 1 - tail[0].seq)
            return list(itertools.islice(tail, start, start + limit))

    def ack(self, upto_seq: int) -> int:
        """Remove every record with ``seq <= upto_seq`` (the broker has it); returns how many."""
        with self._tail_lock:
            tail = self._tail
            while tail and tail[0].seq <= upto_seq:
                tail.popleft()
        with self._lock:
            db = self._conn()
            try:
                n = db.execute("DELETE FROM buf WHERE seq <= ?", (upto_seq,)).rowcount
            except sqlite3.Error as err:
                raise EdgeBufferError(f"cannot acknowledge in edge buffer {self.path}: {err}") from err
        self.acked += n
        return n

    # -- state --------------------------------------------------------------------------------

    def used_bytes(self) -> int:
        db = self._conn()
        pages = int(db.execute("PRAGMA page_count").fetchone()[0])
        free = int(db.execute("PRAGMA freelist_count").fetchone()[0])
        return (pages - free) * self._page

    def epoch(self) -> int:
        """A random id of this buffer file, created with it (see :mod:`shopfloor.ingest.edge`)."""
        import secrets

        with self._lock:
            db = self._conn()
            row = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
            if row is None:
                value = secrets.randbits(62)
                db.execute("INSERT INTO meta VALUES ('epoch', ?)", (value,))
                return value
        return int(row[0])

    def last_seq(self) -> int:
        with self._lock:
            row = self._conn().execute("SELECT seq FROM sqlite_sequence WHERE name = 'buf'").fetchone()
        return int(row[0]) if row else 0

    def stats(self) -> dict[str, Any]:
        """Depth, size, flags and counters (the last known ones once closed)."""
        if self._db is None:
            return dict(self._last_stats)
        with self._lock:
            db = self._conn()
            depth, oldest = db.execute("SELECT count(*), min(ts) FROM buf").fetchone()
            meta = dict(db.execute("SELECT key, value FROM meta WHERE key != 'epoch'").fetchall())
            used = self.used_bytes()
        self._last_stats = {
            "depth": int(depth),
            "oldest_ts": oldest,
            "bytes": used,
            "max_bytes": self.max_bytes,
            "full": self.full,
            "appended": self.appended,
            "acked": self.acked,
            "downsampled": int(meta.get("downsampled", 0)),
            "dropped": int(meta.get("dropped", 0)),
        }
        return dict(self._last_stats)


def _typed(value: Any, kind: int) -> Any:
    if kind == 2:
        return bool(value)
    if kind == 0 and isinstance(value, int):
        return float(value)
    return value
