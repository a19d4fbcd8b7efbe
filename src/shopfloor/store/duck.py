"""One DuckDB file behind one connection: opening, error translation, thread safety.

Every call runs through :meth:`DuckFile.call`, which holds a thread lock (the connection is
used by one thread at a time even if an awaiting task was cancelled) and translates duckdb
errors into the shopfloor error tree.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from ..core.errors import QueryError, StoreError, StoreUnavailable
from . import queries as q

log = logging.getLogger(__name__)
T = TypeVar("T")
CHECKPOINT_THRESHOLD = "256MB"

_QUERY_ERRORS = (
    duckdb.ParserException,
    duckdb.BinderException,
    duckdb.ConversionException,
    duckdb.InvalidInputException,
    duckdb.OutOfRangeException,
)


def translate(err: duckdb.Error, path: Path) -> StoreError:
    """The shopfloor error for a duckdb error (callers ``raise ... from err``)."""
    text = str(err)
    if "lock" in text.lower() and isinstance(err, duckdb.IOException):
        return StoreUnavailable(
            f"cannot open time-series store {str(path)!r}: another process holds it (DuckDB locks its"
            f" file to one process; stop that process, or use its API): {text}"
        )
    if isinstance(err, duckdb.IOException | duckdb.ConnectionException | duckdb.OutOfMemoryException):
        return StoreUnavailable(f"time-series store {str(path)!r} unavailable: {text}")
    if isinstance(err, _QUERY_ERRORS):
        return QueryError(f"time-series query failed: {text}")
    return StoreError(f"time-series store {str(path)!r} failed: {text}")


@dataclass
class OpenState:
    """What the store needs in memory after opening a file."""

    keys: list[tuple[str, str]] = field(default_factory=list)
    hot_rows: int = 0
    horizon: int = -(2**62)
    latest: list[tuple[Any, ...]] = field(default_factory=list)


class DuckFile:
    """The connection to one DuckDB file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._con: duckdb.DuckDBPyConnection | None = None
        self._mutex = threading.Lock()

    def open(self) -> OpenState:
        """Connect, create or migrate the schema and read the in-memory state."""
        with self._mutex:
            if self._con is not None:
                raise StoreError(f"time-series store {str(self.path)!r} is already open")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreUnavailable(f"cannot create {str(self.path.parent)!r}: {err.strerror}") from err
            try:
                con = duckdb.connect(str(self.path))
            except duckdb.Error as err:
                raise translate(err, self.path) from err
            try:
                state = _prepare(con)
            except duckdb.Error as err:
                con.close()
                raise translate(err, self.path) from err
            except BaseException:
                con.close()
                raise
            self._con = con
            return state

    def call(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run ``fn(connection)`` under the lock, translating duckdb errors."""
        with self._mutex:
            if self._con is None:
                raise StoreUnavailable(f"time-series store {str(self.path)!r} is not open")
            try:
                return fn(self._con)
            except duckdb.Error as err:
                raise translate(err, self.path) from err

    def close(self) -> None:
        """Checkpoint and close; a no-op when closed."""
        with self._mutex:
            con, self._con = self._con, None
            if con is None:
                return
            try:
                con.execute("CHECKPOINT")
            except duckdb.Error as err:
                log.warning("checkpoint of %s at close failed: %s", self.path, err)
            con.close()


def _prepare(con: duckdb.DuckDBPyConnection) -> OpenState:
    # Rows written to the write table are usually compacted away before a checkpoint would
    # copy them into the file; checkpointing less often saved ~15% of the write time.
    con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
    con.execute("SET enable_progress_bar = false")
    for ddl in q.DDL:
        con.execute(ddl)
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version > q.SCHEMA_VERSION:
        raise StoreUnavailable(
            f"time-series store schema version {version} is newer than this shopfloor"
            f" ({q.SCHEMA_VERSION}); upgrade shopfloor"
        )
    if version < q.SCHEMA_VERSION:
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', $v)", {"v": str(q.SCHEMA_VERSION)})
    state = OpenState()
    ids = con.execute("SELECT id, asset, tag FROM series ORDER BY id").fetchall()
    for expected, (sid, asset, tag) in enumerate(ids):
        if sid != expected:
            raise StoreUnavailable(f"time-series store series ids are not dense at id {sid}: file damaged?")
        state.keys.append((asset, tag))
    hot = con.execute("SELECT count(*) FROM hot").fetchone()
    state.hot_rows = int(hot[0]) if hot else 0
    horizon = con.execute("SELECT value FROM meta WHERE key = 'raw_horizon'").fetchone()
    if horizon:
        state.horizon = int(horizon[0])
    state.latest = con.execute(q.LATEST_SQL).fetchall()
    return state
