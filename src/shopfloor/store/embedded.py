"""The embedded time-series store: one DuckDB file (default ``data/timeseries.duckdb``).

Writes go in only as Arrow batches (one transaction each); the table layout is described in
:mod:`shopfloor.store.queries`. The newest sample of every series is kept in memory, updated
on write and rebuilt from the file at open, so :meth:`EmbeddedStore.latest` never queries.

Durability: a write returns after DuckDB committed it to its write-ahead log, so a crash or
a killed process loses at most what had not yet been passed to :meth:`write` (the ingest
writer's buffer). DuckDB locks its file to one process: a second process opening the same
file gets :class:`StoreUnavailable` saying so (admin commands go through the API instead).

DuckDB calls block, so each one runs in ``asyncio.to_thread`` on the one connection, one at a
time. Retention keeps 1-minute rollups of raw rows before deleting them; an aggregate with a
bucket of whole minutes that reaches back before the raw horizon reads those rollups.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa

from ..core.errors import QueryError, StoreError
from ..core.sample import Sample
from ..core.settings import StoreSettings
from . import ops
from . import queries as q
from .base import ExportFormat, TimeSeriesStore
from .columns import KIND_STR, decode_value, encode, encode_columns, in_subtree, pack, unpack
from .duck import DuckFile
from .latest import LatestCache

log = logging.getLogger(__name__)
T = TypeVar("T")


class EmbeddedStore(TimeSeriesStore):
    """Time series in one DuckDB file; see the module docstring.

    ``hot_rows``: once this many rows wait in the write table they are compacted (sorted by
    series) into the main table; larger means fewer, larger sorts and a larger unsorted scan.
    """

    def __init__(self, path: Path, settings: StoreSettings | None = None, *, hot_rows: int = 1_000_000):
        self.path = Path(path)
        self.settings = settings if settings is not None else StoreSettings()  # type: ignore[call-arg]
        self.hot_rows = hot_rows
        self._db = DuckFile(self.path)
        self._lock = asyncio.Lock()
        self._ids: dict[tuple[str, str], int] = {}
        self._keys: list[tuple[str, str]] = []
        self._latest = LatestCache()
        self._order: list[int] = []
        self._compactions = 0
        self._compact_s = 0.0
        self._hot = 0
        self._horizon = -(2**62)

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Open or create the file, load the series dictionary and the latest values."""
        async with self._lock:
            state = await asyncio.to_thread(self._db.open)
        self._keys = state.keys
        self._ids = {key: i for i, key in enumerate(self._keys)}
        self._hot = state.hot_rows
        self._horizon = state.horizon
        self._latest = LatestCache()
        self._latest.load(state.latest)
        log.info("opened %s: %d series, %d rows to compact", self.path, len(self._keys), self._hot)

    async def close(self) -> None:
        """Checkpoint and close; safe to call twice."""
        async with self._lock:
            await asyncio.to_thread(self._db.close)

    async def _run(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        async with self._lock:
            return await ops.settle(self._db.call, fn)

    # -- writing -----------------------------------------------------------------------------

    def _resolve(self, keys: Sequence[tuple[str, str]]) -> tuple[list[int], list[tuple[str, str]]]:
        """Series ids of ``keys``; new series get the next ids (registered after commit)."""
        ids = self._ids
        sids = list(map(ids.get, keys))
        if None not in sids:
            return sids, []  # type: ignore[return-value]
        new: dict[tuple[str, str], int] = {}
        next_id = len(self._keys)
        out: list[int] = []
        for key, sid in zip(keys, sids, strict=True):
            if sid is None:
                sid = new.get(key)
                if sid is None:
                    asset, tag = key
                    if not asset or not tag:
                        raise StoreError(f"sample needs an asset and a tag, got {asset!r}/{tag!r}")
                    sid = new[key] = next_id + len(new)
            out.append(sid)
        return out, list(new)

    async def write(self, samples: Sequence[Sample]) -> int:
        """Write one batch in one transaction; returns the number written."""
        if not samples:
            return 0
        async with self._lock:
            sids, new = self._resolve([(s.asset, s.tag) for s in samples])
            table = await asyncio.to_thread(encode, samples, sids)
            await self._insert(table, new)
        return len(samples)

    async def write_columns(
        self,
        series: Sequence[tuple[str, str]],
        series_index: np.ndarray,
        ts: np.ndarray,
        values: np.ndarray,
        quality: np.ndarray | None = None,
    ) -> int:
        """Write numeric samples given as columns, without building :class:`Sample` objects.

        ``series`` lists the (asset, tag) pairs; row ``i`` belongs to
        ``series[series_index[i]]`` and has time ``ts[i]`` (epoch ns), value ``values[i]``
        (one numeric dtype: float, int or bool) and quality ``quality[i]`` (default good).
        """
        n = len(ts)
        if not (len(series_index) == len(values) == n and (quality is None or len(quality) == n)):
            raise StoreError("write_columns: series_index, ts, values and quality must have one length")
        if n == 0:
            return 0
        async with self._lock:
            ids, new = self._resolve(list(series))
            sid_of = np.asarray(ids, dtype=np.int32)
            table = encode_columns(sid_of[np.asarray(series_index)], ts, values, quality)
            await self._insert(table, new)
        return n

    async def _insert(self, table: pa.Table, new: list[tuple[str, str]]) -> None:
        """Insert one encoded batch (and new series) in one transaction; lock held by caller."""
        packed, texts = pack(table)
        first = len(self._keys)
        series = None
        if new:
            series = pa.table(
                {
                    "id": pa.array(range(first, first + len(new)), pa.int32()),
                    "asset": [a for a, _ in new],
                    "tag": [t for _, t in new],
                }
            )
        compact = self._hot + table.num_rows >= self.hot_rows

        def committed(compact_s: float) -> None:
            if compact:
                self._compactions += 1
                self._compact_s += compact_s
            for i, key in enumerate(new):
                self._ids[key] = first + i
                self._keys.append(key)
            self._hot = 0 if compact else self._hot + table.num_rows
            self._latest.update(table)

        await ops.settle(
            self._db.call, lambda con: ops.insert(con, packed, texts, series, compact), after=committed
        )

    # -- reading -----------------------------------------------------------------------------

    async def latest(self, asset: str | None = None) -> list[Sample]:
        """Latest sample of every series (of one asset subtree), sorted by asset and tag."""
        keys = self._keys
        if len(self._order) != len(keys):
            self._order = sorted(range(len(keys)), key=keys.__getitem__)
        ids = self._order
        if asset is not None:
            ids = [i for i in ids if in_subtree(keys[i][0], asset)]
        return self._latest.samples(keys, ids)

    async def history(self, asset: str, tag: str, start: int, end: int, limit: int = 100_000) -> list[Sample]:
        """Raw samples of one series with ``start <= ts < end``, oldest first."""
        if start >= end:
            raise QueryError(f"empty time range: start {start} must be before end {end}")
        if limit <= 0:
            raise QueryError(f"limit must be positive, got {limit}")
        sid = self._ids.get((asset, tag))
        if sid is None:
            return []
        params = {"sid": sid, "start": int(start), "end": int(end), "limit": int(limit)}
        rows, texts = await self._run(lambda con: ops.history(con, params))
        out = []
        for ts, value, flags in rows:
            kind, quality = unpack(flags)
            waiting = texts.get(ts) if kind == KIND_STR else None
            text = waiting.pop(0) if waiting else None
            out.append(Sample(asset, tag, ts, decode_value(value, text, kind), quality))
        return out

    def _params(self, start: int, end: int, bucket_ns: int) -> tuple[dict[str, int], bool]:
        rollups = start < self._horizon and bucket_ns % q.MINUTE_NS == 0
        params = {"start": int(start), "end": int(end)}
        if rollups:
            params["horizon"] = self._horizon
        return params, rollups

    async def aggregate(
        self,
        asset: str,
        tag: str,
        start: int,
        end: int,
        bucket_ns: int,
        aggs: Sequence[str] = ("avg", "min", "max", "count"),
    ) -> list[dict[str, Any]]:
        """Bucketed aggregates of one series (see :class:`TimeSeriesStore`).

        Aggregates are over the numeric values (bool as 0/1); ``count`` counts every sample,
        str ones too. Before the raw horizon (``retention_days``), buckets that are whole
        minutes are served from the 1-minute rollups; other buckets see raw rows only.
        """
        aggs = list(aggs)
        q.check_query(start, end, bucket_ns, aggs)
        sid = self._ids.get((asset, tag))
        if sid is None:
            return []
        params, rollups = self._params(start, end, bucket_ns)
        sql = q.aggregate_sql(aggs, bucket_ns, f"series_id = {sid}", rollups, per_series=False)
        rows = await self._run(lambda con: con.execute(sql, params).fetchall())
        names = ["ts", *aggs]
        return [dict(zip(names, row, strict=True)) for row in rows]

    async def aggregate_all_arrow(self, start: int, end: int, bucket_ns: int, agg: str = "avg") -> pa.Table:
        """One aggregate of every series per bucket as Arrow columns ``series_id, ts, value``.

        The fast form of :meth:`aggregate_all` (no Python object per row); map ``series_id``
        with :meth:`series_keys`.
        """
        q.check_query(start, end, bucket_ns, [agg])
        params, rollups = self._params(start, end, bucket_ns)
        sql = q.aggregate_sql([agg], bucket_ns, "TRUE", rollups, per_series=True)
        table: pa.Table = await self._run(lambda con: con.sql(sql, params=params).to_arrow_table())
        return table.rename_columns(["series_id", "ts", "value"])

    def series_keys(self) -> list[tuple[str, str]]:
        """(asset, tag) of every series id ever written, indexed by id."""
        return list(self._keys)

    async def aggregate_all(
        self, start: int, end: int, bucket_ns: int, agg: str = "avg"
    ) -> list[dict[str, Any]]:
        """One aggregate of every series per bucket, ordered by series id then time."""
        table = await self.aggregate_all_arrow(start, end, bucket_ns, agg)
        assets = [a for a, _ in self._keys]
        tags = [t for _, t in self._keys]
        sids = table.column("series_id").to_numpy().tolist()
        ts = table.column("ts").to_numpy().tolist()
        col = table.column("value")
        values = col.to_numpy().tolist() if col.null_count == 0 else col.to_pylist()
        return [
            {"asset": assets[i], "tag": tags[i], "ts": t, "value": v}
            for i, t, v in zip(sids, ts, values, strict=True)
        ]

    async def series(self) -> list[tuple[str, str]]:
        """Every (asset, tag) with stored samples (raw or rolled up), sorted."""
        sql = (
            "SELECT DISTINCT series_id FROM ("
            + q.raw_union("series_id", "TRUE")
            + " UNION ALL SELECT series_id FROM rollup_1m)"
        )
        rows = await self._run(lambda con: con.execute(sql).fetchall())
        return sorted(self._keys[r[0]] for r in rows)

    # -- housekeeping ------------------------------------------------------------------------

    async def enforce_retention(self, now_ns: int) -> int:
        """Roll raw rows past ``retention_days`` up into 1-minute rollups, then delete them.

        Rollups past ``rollup_retention_days`` are deleted too. One transaction; returns
        the number of raw rows deleted.
        """
        day = 86_400 * 10**9
        cutoff = int(now_ns - self.settings.retention_days * day)
        cutoff -= cutoff % q.MINUTE_NS
        rollup_cutoff = int(now_ns - self.settings.rollup_retention_days * day)
        # Set first: rollup rows only ever hold deleted raw rows, so a horizon that is too new
        # (the transaction failed) costs a little speed, never a wrong result.
        self._horizon = horizon = max(self._horizon, cutoff)
        self._latest.drop_before(cutoff)
        deleted = await self._run(lambda con: ops.retain(con, cutoff, rollup_cutoff, horizon))
        if deleted:
            log.info("retention: rolled up and deleted %d raw samples before %d", deleted, cutoff)
        return deleted

    async def export(
        self, path: Path, fmt: ExportFormat, start: int, end: int, asset: str | None = None
    ) -> int:
        """Write samples in [start, end) to CSV or Parquet; returns the number of rows.

        Columns: ``asset, tag, time`` (ISO 8601 UTC, nanoseconds), ``value`` (float; bool as
        0/1; empty for str samples), ``quality`` and ``text`` (the value of str samples).
        """
        if fmt not in ("csv", "parquet"):
            raise QueryError(f"unknown export format {fmt!r}: use csv or parquet")
        if start >= end:
            raise QueryError(f"empty time range: start {start} must be before end {end}")
        cond = "TRUE"
        if asset is not None:
            cond = q.id_filter([i for i, (a, _) in enumerate(self._keys) if in_subtree(a, asset)])
        target = str(Path(path)).replace("'", "''")
        options = "FORMAT csv, HEADER" if fmt == "csv" else "FORMAT parquet"
        sql = f"COPY ({q.export_sql(cond, start, end)}) TO '{target}' ({options})"
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        row = await self._run(lambda con: con.execute(sql).fetchone())
        return int(row[0]) if row else 0

    async def stats(self) -> dict[str, Any]:
        """Row counts, series count, file size and the raw horizon."""
        counts = await self._run(ops.counts)
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}.wal")) if p.exists())
        return {
            "backend": "embedded",
            "path": str(self.path),
            "series": len(self._keys),
            **counts,
            "file_bytes": size,
            "raw_horizon_ns": self._horizon if self._horizon > -(2**62) else None,
            "compactions": self._compactions,
            "compaction_s": round(self._compact_s, 3),
        }
