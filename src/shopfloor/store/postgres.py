"""The production time-series store: PostgreSQL (15+, or TimescaleDB) through psycopg 3 async.

The layout and SQL are in :mod:`shopfloor.store.pg_sql`. A batch is written in one transaction:

1. series not seen before are registered in the ``series`` dictionary (``ON CONFLICT DO
   NOTHING``, so several processes may register the same series at once);
2. day partitions the batch needs are created (under an advisory lock);
3. the rows go in by **binary COPY** straight into ``samples`` (fast path). The primary key
   ``(series_id, ts)`` refuses a point that is already stored; if the batch holds one (a
   redelivered or retried batch), the transaction is rolled back and the batch is copied into
   a temporary staging table and moved with ``INSERT ... ON CONFLICT DO NOTHING``. Either way
   a point is stored once, which is what makes retries safe: when :meth:`write` raises
   :class:`StoreUnavailable` the commit may or may not have happened, and writing the same
   batch again is correct in both cases;
4. the newest sample per series is upserted into ``latest`` in the same transaction.

:meth:`PostgresStore.latest` answers from memory: the cache is loaded from the ``latest``
table at :meth:`open` (and by :meth:`reload_latest`) and updated by this process's writes.

Errors are translated here: a server that cannot be reached (refused, bad credentials, gone
away mid-run, no pooled connection in ``timeout_s``) raises :class:`StoreUnavailable` naming
``host:port/database``; bad SQL input raises :class:`QueryError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
from psycopg import errors as pgerr

from ..core.errors import QueryError, StoreError
from ..core.sample import Sample
from ..core.settings import StoreSettings
from . import pg_sql as q
from .base import ExportFormat, TimeSeriesStore
from .columns import decode_value as _decode
from .columns import encode, encode_columns, in_subtree, kind_of, last_per_series, quality_of
from .pg_copy import COLUMNS, copy_buffer
from .pg_export import ExportWriter
from .pg_pool import PgPool
from .queries import MINUTE_NS, check_query

log = logging.getLogger(__name__)
_NO_HORIZON = -(2**62)


class PostgresStore(TimeSeriesStore):
    """Time series in PostgreSQL; see the module docstring.

    ``schema`` holds every table (created at :meth:`open`); ``pool_size`` bounds the connections;
    ``timeout_s`` is how long to wait for the server (connect, or a pooled connection).
    """

    def __init__(
        self,
        dsn: str,
        settings: StoreSettings | None = None,
        schema: str = "shopfloor",
        *,
        pool_size: int = 4,
        timeout_s: float = 10.0,
    ) -> None:
        self._db = PgPool(dsn, schema, pool_size, timeout_s)
        self.dsn = dsn
        self.schema = schema
        self.where = self._db.where
        self.settings = settings if settings is not None else StoreSettings()  # type: ignore[call-arg]
        self._ids: dict[tuple[str, str], int] = {}
        self._keys: list[tuple[str, str]] = []
        self._days: set[int] = set()
        self._latest: dict[int, Sample] = {}
        self._horizon = _NO_HORIZON

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the schema if needed, open the pool, load series, partitions and latest values."""
        await self._db.open()
        await self._reload_series()
        await self._reload_days()
        await self.reload_latest()
        rows = await self._db.fetch("SELECT value FROM meta WHERE key = 'raw_horizon'")
        self._horizon = int(rows[0][0]) if rows else _NO_HORIZON
        log.info("opened PostgreSQL store %s schema %s: %d series", self.where, self.schema, len(self._ids))

    async def close(self) -> None:
        """Close the pool; safe to call twice."""
        await self._db.close()

    # -- series, partitions, latest ------------------------------------------------------------

    def _register(self, sid: int, key: tuple[str, str]) -> None:
        if sid >= len(self._keys):
            self._keys.extend([("", "")] * (sid + 1 - len(self._keys)))
        self._keys[sid] = key
        self._ids[key] = sid

    async def _reload_series(self) -> None:
        for sid, asset, tag in await self._db.fetch("SELECT id, asset, tag FROM series"):
            self._register(sid, (asset, tag))

    async def _reload_days(self) -> None:
        rows = await self._db.fetch(q.PARTITIONS)
        self._days = {q.day_of_partition(name) for (name,) in rows}

    async def reload_latest(self) -> None:
        """Reload the latest-value cache from the ``latest`` table (sees other processes' writes)."""
        await self._reload_series()
        rows = await self._db.fetch("SELECT series_id, ts, value, text, kind, quality FROM latest")
        self._latest = {}
        self._remember([list(col) for col in zip(*rows, strict=True)] if rows else [[]] * 6)

    def _remember(self, latest: Sequence[list[Any]]) -> None:
        """Update the cache from columns ``series_id, ts, value, text, kind, quality``."""
        cache, keys = self._latest, self._keys
        for sid, ts, value, text, kind, quality in zip(*latest, strict=True):
            known = cache.get(sid)
            if known is None or ts >= known.ts:
                asset, tag = keys[sid]
                cache[sid] = Sample(asset, tag, ts, _decode(value, text, kind), quality_of(quality))

    async def _sid(self, asset: str, tag: str) -> int | None:
        sid = self._ids.get((asset, tag))
        if sid is None:
            rows = await self._db.fetch("SELECT id FROM series WHERE asset = %s AND tag = %s", (asset, tag))
            if rows:
                sid = int(rows[0][0])
                self._register(sid, (asset, tag))
        return sid

    async def _resolve(self, keys: list[tuple[str, str]], kinds: np.ndarray) -> np.ndarray:
        """Series ids of ``keys``, registering new series (committed before the batch)."""
        ids = self._ids
        sids = list(map(ids.get, keys))
        if None in sids:
            new: dict[tuple[str, str], int] = {}
            for key, sid, kind in zip(keys, sids, kinds.tolist(), strict=True):
                if sid is None and key not in new:
                    if not key[0] or not key[1]:
                        raise StoreError(f"sample needs an asset and a tag, got {key[0]!r}/{key[1]!r}")
                    new[key] = kind
            assets, tags = [k[0] for k in new], [k[1] for k in new]
            async with self._db.conn() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO series(asset, tag, kind) SELECT * FROM unnest(%s::text[], %s::text[],"
                    " %s::smallint[]) ON CONFLICT DO NOTHING",
                    (assets, tags, list(new.values())),
                )
                cur = await conn.execute(
                    "SELECT s.id, s.asset, s.tag FROM series s JOIN unnest(%s::text[], %s::text[]) AS k(a, t)"
                    " ON s.asset = k.a AND s.tag = k.t",
                    (assets, tags),
                )
                for sid, asset, tag in await cur.fetchall():
                    self._register(sid, (asset, tag))
            sids = list(map(ids.get, keys))
        return np.asarray(sids, dtype=np.int32)

    async def _ensure_days(self, ts: np.ndarray) -> None:
        days = np.unique(np.floor_divide(ts, q.DAY_NS)).tolist()
        missing = [d for d in days if d not in self._days]
        if not missing:
            return
        async with self._db.conn() as conn, conn.transaction():
            await conn.execute(q.LOCK, (f"{self.schema}.ddl",))
            for day in missing:
                await conn.execute(q.create_partition_sql(day))
        self._days.update(missing)
        log.debug("created partitions for days %s", missing)

    # -- writing -----------------------------------------------------------------------------

    async def write(self, samples: Sequence[Sample]) -> int:
        """Write one batch in one transaction (idempotent); returns the number of samples given."""
        if not samples:
            return 0
        n = len(samples)
        table = (
            await asyncio.to_thread(encode, samples, np.zeros(n, dtype=np.int32))
            if n > 2000
            else (encode(samples, np.zeros(n, dtype=np.int32)))
        )
        sids = await self._resolve([(s.asset, s.tag) for s in samples], table.column("kind").to_numpy())
        await self._write_table(table.set_column(0, "series_id", pa.array(sids)))
        return n

    async def write_columns(
        self,
        series: Sequence[tuple[str, str]],
        series_index: np.ndarray,
        ts: np.ndarray,
        values: np.ndarray,
        quality: np.ndarray | None = None,
    ) -> int:
        """Write numeric samples given as columns (see ``EmbeddedStore.write_columns``)."""
        n = len(ts)
        if not (len(series_index) == len(values) == n and (quality is None or len(quality) == n)):
            raise StoreError("write_columns: series_index, ts, values and quality must have one length")
        if n == 0:
            return 0
        probe = np.asarray(values[:1]).tolist()
        kinds = np.full(len(series), kind_of(probe[0]), dtype=np.uint8)
        sid_of = await self._resolve(list(series), kinds)
        await self._write_table(encode_columns(sid_of[np.asarray(series_index)], ts, values, quality))
        return n

    async def _write_table(self, table: pa.Table) -> None:
        ts = table.column("ts").to_numpy()
        await self._ensure_days(ts)
        buf = await asyncio.to_thread(copy_buffer, table) if len(ts) > 2000 else copy_buffer(table)
        sids = table.column("series_id").to_numpy()
        _, rows = last_per_series(sids, ts)
        newest = table.take(pa.array(rows))
        latest = [
            newest.column(c).to_pylist() for c in ("series_id", "ts", "value", "text", "kind", "quality")
        ]
        for attempt in range(2):
            try:
                async with self._db.conn() as conn:
                    await self._copy_in(conn, buf, latest, staged=False)
                break
            except StoreError as err:
                cause = err.__cause__
                if isinstance(cause, pgerr.UniqueViolation):
                    log.debug("batch holds stored points; writing through the staging table")
                    async with self._db.conn() as conn:
                        await self._copy_in(conn, buf, latest, staged=True)
                    break
                if isinstance(cause, pgerr.CheckViolation) and attempt == 0:
                    await self._reload_days()  # a partition was dropped by another process
                    await self._ensure_days(ts)
                    continue
                raise
        self._remember(latest)

    @staticmethod
    async def _copy_in(
        conn: psycopg.AsyncConnection[Any], buf: bytes, latest: list[list[Any]], staged: bool
    ) -> None:
        async with conn.transaction():
            cur = conn.cursor()
            target = "stage" if staged else "samples"
            async with cur.copy(f"COPY {target} ({COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                await copy.write(buf)
            if staged:
                await cur.execute(q.INSERT_STAGED)
            await cur.execute(q.UPSERT_LATEST, latest)

    # -- reading -----------------------------------------------------------------------------

    async def latest(self, asset: str | None = None) -> list[Sample]:
        """Latest sample of every series (of one asset subtree), sorted by asset and tag."""
        found = [s for s in self._latest.values() if in_subtree(s.asset, asset)]
        found.sort(key=lambda s: (s.asset, s.tag))
        return found

    async def history(self, asset: str, tag: str, start: int, end: int, limit: int = 100_000) -> list[Sample]:
        """Raw samples of one series with ``start <= ts < end``, oldest first."""
        if start >= end:
            raise QueryError(f"empty time range: start {start} must be before end {end}")
        if limit <= 0:
            raise QueryError(f"limit must be positive, got {limit}")
        sid = await self._sid(asset, tag)
        if sid is None:
            return []
        rows = await self._db.fetch(q.HISTORY, (sid, int(start), int(end), int(limit)))
        return [
            Sample(asset, tag, ts, _decode(value, text, kind), quality_of(quality))
            for ts, value, text, kind, quality in rows
        ]

    async def _aggregate(
        self, series_filter: str, start: int, end: int, bucket_ns: int, aggs: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        rollups = start < self._horizon and bucket_ns % MINUTE_NS == 0
        params = {"start": int(start), "end": int(end), "horizon": self._horizon}
        return await self._db.fetch(q.aggregate_sql(aggs, bucket_ns, series_filter, rollups), params)

    async def aggregate(
        self,
        asset: str,
        tag: str,
        start: int,
        end: int,
        bucket_ns: int,
        aggs: Sequence[str] = ("avg", "min", "max", "count"),
    ) -> list[dict[str, Any]]:
        """Bucketed aggregates of one series (see :class:`TimeSeriesStore` and EmbeddedStore)."""
        aggs = list(aggs)
        check_query(start, end, bucket_ns, aggs)
        sid = await self._sid(asset, tag)
        if sid is None:
            return []
        rows = await self._aggregate(f"series_id = {int(sid)}", start, end, bucket_ns, aggs)
        names = ["ts", *aggs]
        return [dict(zip(names, row[1:], strict=True)) for row in rows]

    async def aggregate_all(
        self, start: int, end: int, bucket_ns: int, agg: str = "avg"
    ) -> list[dict[str, Any]]:
        """One aggregate of every series per bucket, ordered by series id then time."""
        check_query(start, end, bucket_ns, [agg])
        rows = await self._aggregate("TRUE", start, end, bucket_ns, [agg])
        if any(sid >= len(self._keys) or not self._keys[sid][0] for sid, *_ in rows):
            await self._reload_series()
        keys = self._keys
        return [{"asset": keys[s][0], "tag": keys[s][1], "ts": t, "value": v} for s, t, v in rows]

    async def series(self) -> list[tuple[str, str]]:
        """Every (asset, tag) with stored samples (raw or rolled up), sorted."""
        return [(a, t) for a, t in await self._db.fetch(q.SERIES_IN_USE)]

    # -- housekeeping ------------------------------------------------------------------------

    async def enforce_retention(self, now_ns: int) -> int:
        """Roll whole days older than ``retention_days`` up into 1-minute rollups, then drop them.

        Raw data is kept for at least ``retention_days`` (a day partition goes once all of it
        is past the cutoff). Rollups past ``rollup_retention_days`` are deleted. One
        transaction; returns the number of raw rows dropped.
        """
        cutoff = int(now_ns - self.settings.retention_days * q.DAY_NS)
        first_kept = cutoff // q.DAY_NS
        rollup_cutoff = int(now_ns - self.settings.rollup_retention_days * q.DAY_NS)
        deleted = 0
        async with self._db.conn() as conn, conn.transaction():
            await conn.execute(q.LOCK, (f"{self.schema}.ddl",))
            names = [r[0] for r in await (await conn.execute(q.PARTITIONS)).fetchall()]
            old = [n for n in names if q.day_of_partition(n) < first_kept]
            for name in old:
                row = await (await conn.execute(f"SELECT count(*) FROM {name}")).fetchone()
                deleted += int(row[0]) if row else 0
                await conn.execute(q.rollup_sql(name))
                await conn.execute(f"DROP TABLE {name}")
            horizon = max(self._horizon, first_kept * q.DAY_NS)
            await conn.execute("DELETE FROM rollup WHERE ts < %s", (rollup_cutoff,))
            if old:
                await conn.execute("DELETE FROM latest WHERE ts < %s", (horizon,))
                await conn.execute(
                    "INSERT INTO meta VALUES ('raw_horizon', %s) ON CONFLICT (key) DO UPDATE"
                    " SET value = EXCLUDED.value",
                    (str(horizon),),
                )
        if old:
            self._horizon = horizon
            self._days -= {q.day_of_partition(n) for n in old}
            self._latest = {k: s for k, s in self._latest.items() if s.ts >= horizon}
            log.info("retention: rolled up and dropped %d partitions (%d raw samples)", len(old), deleted)
        return deleted

    async def export(
        self, path: Path, fmt: ExportFormat, start: int, end: int, asset: str | None = None
    ) -> int:
        """Write samples in [start, end) to CSV or Parquet (columns: see :mod:`.pg_export`)."""
        if fmt not in ("csv", "parquet"):
            raise QueryError(f"unknown export format {fmt!r}: use csv or parquet")
        if start >= end:
            raise QueryError(f"empty time range: start {start} must be before end {end}")
        where = "TRUE"
        if asset is not None:
            await self._reload_series()
            ids = [i for i, (a, _) in enumerate(self._keys) if a and in_subtree(a, asset)]
            where = q.id_filter(ids, "r.series_id")
        writer = await asyncio.to_thread(ExportWriter, Path(path), fmt)
        try:
            async with self._db.conn() as conn, conn.transaction():
                cur = conn.cursor(name="shopfloor_export")
                await cur.execute(q.EXPORT.format(where=where), {"start": int(start), "end": int(end)})
                while rows := await cur.fetchmany(50_000):
                    await asyncio.to_thread(writer.write, rows)
        finally:
            await asyncio.to_thread(writer.close)
        return writer.rows

    async def stats(self) -> dict[str, Any]:
        """Row counts (exact: a full count), series count, partitions, bytes and the raw horizon."""
        row = (await self._db.fetch(q.STATS))[0]
        return {
            "backend": "postgres",
            "where": self.where,
            "schema": self.schema,
            "series": int(row[0]),
            "raw_rows": int(row[1]),
            "rollup_rows": int(row[2]),
            "partitions": int(row[3]),
            "total_bytes": int(row[4] or 0),
            "raw_horizon_ns": self._horizon if self._horizon > _NO_HORIZON else None,
        }
