"""``shopfloor bench store --backend postgres``: the PostgreSQL store, next to raw PostgreSQL.

The same data set as the embedded bench (:mod:`shopfloor.bench.store`): ``tags`` series sampled
so that ``points`` samples span six hours, written in time order in batches of 50k rows. It
runs in a fresh schema that is dropped afterwards.

Side by side in the same run, raw PostgreSQL does the same write (the same binary COPY buffers
into one plain table with no key, no partitions and no latest table) and the same one-tag
rollup in plain SQL; ``vs_raw`` is shopfloor's time over raw PostgreSQL's. The targets are the
embedded store's (issue 2); the production issue names none of its own for the store.
"""

from __future__ import annotations

import asyncio
import os
import platform
import resource
import time
import uuid
from typing import Any

import numpy as np

from ..core.settings import StoreSettings
from ..store.columns import encode_columns
from ..store.pg_copy import copy_buffer
from .store import (
    MINUTE,
    SPAN_NS,
    T0,
    TARGETS,
    Progress,
    _batches,
    _latency,
    _layout,
    _timed,
    write_all,
    write_report,
)

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _ours(dsn: str, schema: str, points: int, tags: int, report: Progress) -> dict[str, Any]:
    from ..store.postgres import PostgresStore

    tags, steps, period, keys = _layout(points, tags)
    store = PostgresStore(dsn, StoreSettings(), schema=schema)  # type: ignore[call-arg]
    await store.open()
    out: dict[str, Any] = {"tags": tags, "points": tags * steps, "period_s": period / 1e9}
    try:
        written, elapsed = await write_all(store, keys, tags, steps, period, report)
        out["write_columns"] = write_report(written, elapsed)
        rng = np.random.default_rng(2)
        end = T0 + SPAN_NS

        async def one_tag() -> Any:
            asset, tag = keys[int(rng.integers(tags))]
            return await store.aggregate(asset, tag, T0, end, MINUTE)

        report("one-tag rollup", 0.0)
        await one_tag()
        out["one_tag_rollup_ms"] = _latency(await _timed(one_tag, 50), 1e3, TARGETS["one_tag_ms"])
        report("all-tag rollup", 0.0)
        out["all_tag_rollup_s"] = _latency(
            await _timed(lambda: store.aggregate_all(T0, end, MINUTE, "avg"), 2), 1.0, TARGETS["all_tag_s"]
        )
        report("latest", 0.0)
        out["latest_ms"] = _latency(await _timed(store.latest, 30), 1e3, TARGETS["latest_ms"])
        out["latest_count"] = len(await store.latest())
    finally:
        await store.close()
    return out


async def _raw(dsn: str, schema: str, points: int, tags: int, report: Progress) -> dict[str, Any]:
    import psycopg

    tags, steps, period, _ = _layout(points, tags)
    table = f"{schema}.raw_samples"
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        columns = "series_id int4, ts int8, value float8, text text, kind int2, quality int2"
        await conn.execute(f"CREATE TABLE {table} ({columns})")
        written, elapsed = 0, 0.0
        for idx, ts, values in _batches(tags, steps, period):
            buf = copy_buffer(encode_columns(idx.astype(np.int32) + 1, ts, values, None))
            start = time.perf_counter()
            async with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy,
            ):
                await copy.write(buf)
            elapsed += time.perf_counter() - start
            written += len(ts)
            report("raw write", written / (tags * steps))
        rng = np.random.default_rng(2)
        end = T0 + SPAN_NS
        sql = (
            f"SELECT ts - ts %% {MINUTE} AS b, avg(value), min(value), max(value), count(*) FROM {table} "
            "WHERE series_id = %s AND ts >= %s AND ts < %s GROUP BY b ORDER BY b"
        )

        async def one_tag() -> Any:
            cur = await conn.execute(sql, (int(rng.integers(tags)) + 1, T0, end))
            return await cur.fetchall()

        report("raw one-tag rollup", 0.0)
        runs = await _timed(one_tag, 5)
    return {"write_points_per_s": round(written / elapsed), "one_tag_rollup_ms": _latency(runs, 1e3, None)}


async def _drop(dsn: str, schema: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def run(
    points: int = 10_000_000, tags: int = 10_000, dsn: str | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the PostgreSQL store benchmark in a fresh schema; returns one JSON-able dict."""
    dsn = dsn or os.environ.get("SHOPFLOOR_STORE__POSTGRES_DSN", DEFAULT_DSN)
    report: Progress = progress or (lambda phase, fraction: None)
    schema = "bench_" + uuid.uuid4().hex[:10]
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    try:
        ours = asyncio.run(_ours(dsn, schema, points, tags, report))
        raw = asyncio.run(_raw(dsn, schema + "_raw", points, tags, report))
    finally:
        asyncio.run(_drop(dsn, schema))
        asyncio.run(_drop(dsn, schema + "_raw"))
    rate = ours["write_columns"]["points_per_s"]
    return {
        "bench": "store",
        "backend": "postgres",
        "data": {"points": ours.pop("points"), "tags": ours.pop("tags"), "period_s": ours.pop("period_s")},
        "shopfloor": ours,
        "raw_postgres": raw,
        "vs_raw": {
            "write": round(raw["write_points_per_s"] / rate, 2) if rate else None,
            "one_tag_rollup": round(ours["one_tag_rollup_ms"]["p50"] / raw["one_tag_rollup_ms"]["p50"], 2),
            "note": "shopfloor time / raw PostgreSQL time (> 1: shopfloor is slower); raw has no key, "
            "no partitions and no latest table, so it cannot deduplicate a redelivered point",
        },
        "cpu_s_client": round(time.process_time() - cpu_start, 2),
        "wall_s": round(time.perf_counter() - wall_start, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
