# ruff: noqa: F811  (fixtures imported from conftest_pg are used as arguments)
"""PostgresStore against a real PostgreSQL: the embedded store's behaviours, plus idempotent
writes, partitions, retention into rollups and a server that goes away."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from shopfloor.core.errors import QueryError, StoreError, StoreUnavailable
from shopfloor.core.sample import Quality, Sample
from shopfloor.core.settings import StoreSettings
from shopfloor.store.base import AGGREGATES
from shopfloor.store.postgres import PostgresStore

from .conftest_pg import TcpProxy, free_port, pg_dsn, pg_schema, pg_store  # noqa: F401

T0 = 1_700_000_040_000_000_000  # 2023-11-14T22:14:00Z, a whole minute
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
DAY = 86_400 * SECOND
CUTTER = "mill/converting/line1/cutter"


async def count_rows(dsn: str, schema: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        row = await (await conn.execute(f"SELECT count(*) FROM {schema}.samples")).fetchone()
        return int(row[0]) if row else -1


async def test_data_survives_close_and_reopen(pg_dsn: str, pg_schema: str) -> None:
    store = PostgresStore(pg_dsn, schema=pg_schema)
    await store.open()
    await store.write([Sample("a/b", "x", T0 + i, float(i)) for i in range(80)])
    await store.write([Sample("a/b", "s", T0, "on"), Sample("a/c", "n", T0, 3)])
    await store.close()
    await store.close()  # twice is fine
    again = PostgresStore(pg_dsn, schema=pg_schema)
    await again.open()
    assert len(await again.history("a/b", "x", T0, T0 + 100)) == 80
    assert {(s.asset, s.tag): s.value for s in await again.latest()} == {
        ("a/b", "x"): 79.0,
        ("a/b", "s"): "on",
        ("a/c", "n"): 3,
    }
    assert await again.series() == [("a/b", "s"), ("a/b", "x"), ("a/c", "n")]
    await again.write([Sample("a/d", "y", T0, 1.0)])
    assert (await again.history("a/d", "y", T0, T0 + 1))[0].value == 1.0
    assert (await again.stats())["series"] == 4
    await again.close()
    with pytest.raises(StoreUnavailable, match="not open"):
        await again.history("a/d", "y", T0, T0 + 1)


async def test_rewriting_a_batch_stores_nothing_twice(pg_store: PostgresStore, pg_dsn: str) -> None:
    batch = [Sample(f"m{i % 3}", "t", T0 + i * SECOND, float(i)) for i in range(300)]
    await pg_store.write(batch)
    await pg_store.write(batch)  # a redelivered batch
    assert await count_rows(pg_dsn, pg_store.schema) == 300
    overlap = [*batch[200:], Sample("m0", "t", T0 + 1000 * SECOND, -1.0), Sample("m9", "t", T0, 5)]
    assert await pg_store.write(overlap) == 102
    assert await count_rows(pg_dsn, pg_store.schema) == 302
    assert (await pg_store.latest("m0"))[0].value == -1.0
    assert (await pg_store.stats())["raw_rows"] == 302
    with pytest.raises(StoreError, match="list"):
        await pg_store.write([Sample("a", "u", T0, [1, 2])])  # type: ignore[arg-type]
    assert await count_rows(pg_dsn, pg_store.schema) == 302


async def test_retention_drops_whole_days_and_keeps_rollups(pg_dsn: str, pg_schema: str) -> None:
    day0 = (T0 // DAY) * DAY
    rng = np.random.default_rng(5)
    store = PostgresStore(pg_dsn, StoreSettings(retention_days=2, rollup_retention_days=5), schema=pg_schema)  # type: ignore[call-arg]
    await store.open()
    for d in range(4):  # 4 days, 600 samples each, every 10 s from 01:00
        ts = day0 + d * DAY + 3600 * SECOND + np.arange(600) * 10 * SECOND
        await store.write(
            [Sample("mill/m", "t", int(t), float(v)) for t, v in zip(ts, rng.random(600), strict=True)]
        )
    await store.write([Sample("mill/m", "s", day0 + 3600 * SECOND, "on")])
    assert (await store.stats())["partitions"] == 4
    start, end = day0, day0 + 4 * DAY
    before = await store.aggregate("mill/m", "t", start, end, 5 * MINUTE, AGGREGATES)
    before_hours = await store.aggregate_all(start, end, 3600 * SECOND, "count")
    now = day0 + 4 * DAY + 12 * 3600 * SECOND  # cutoff at day 2, 12:00: days 0 and 1 go
    assert await store.enforce_retention(now) == 1201
    stats = await store.stats()
    assert (
        stats["partitions"] == 2 and stats["raw_rows"] == 1200 and stats["raw_horizon_ns"] == day0 + 2 * DAY
    )
    assert await store.history("mill/m", "t", day0, day0 + 2 * DAY) == []
    after = await store.aggregate("mill/m", "t", start, end, 5 * MINUTE, AGGREGATES)
    assert [r["ts"] for r in after] == [r["ts"] for r in before]
    for a, b in zip(after, before, strict=True):
        assert a == pytest.approx(b, rel=1e-9)
    assert await store.aggregate_all(start, end, 3600 * SECOND, "count") == before_hours
    assert ("mill/m", "s") in await store.series()
    assert {s.tag for s in await store.latest()} == {"t"}  # "s" was only in a dropped day
    later = await store.enforce_retention(now + 5 * DAY)  # days 2..3 go too; all rollups past 5 days
    assert later == 1200 and (await store.stats())["rollup_rows"] == 0
    await store.close()


async def test_export_csv_and_parquet(pg_store: PostgresStore, tmp_path: Path) -> None:
    await pg_store.write(
        [
            Sample("mill/line1/m", "t", T0, 1.5),
            Sample("mill/line1/m", "s", T0 + 1, "on", Quality.UNCERTAIN),
            Sample("mill/line10/m", "t", T0 + 2, 7),
            Sample("mill/line1/m", "t", T0 + MINUTE, 2.5),
        ]
    )
    n = await pg_store.export(tmp_path / "out" / "a.csv", "csv", T0, T0 + MINUTE, asset="mill/line1")
    as_text = pacsv.ConvertOptions(column_types={"time": pa.string()})
    table = pacsv.read_csv(tmp_path / "out" / "a.csv", convert_options=as_text)
    assert n == 2 and table.num_rows == 2
    assert table.column_names[:5] == ["asset", "tag", "time", "value", "quality"]
    assert table.column("time").to_pylist()[0] == "2023-11-14T22:14:00.000000000Z"
    assert table.column("value").to_pylist()[0] == 1.5 and table.column("text").to_pylist()[1] == "on"
    assert table.column("quality").to_pylist() == [192, 64]
    assert await pg_store.export(tmp_path / "b.parquet", "parquet", T0, T0 + 2 * MINUTE) == 4
    rows = pq.read_table(tmp_path / "b.parquet").to_pylist()
    assert [(r["asset"], r["tag"], r["value"]) for r in rows][2:] == [
        ("mill/line10/m", "t", 7.0),
        ("mill/line1/m", "t", 2.5),
    ]
    with pytest.raises(QueryError, match="xlsx"):
        await pg_store.export(tmp_path / "c", "xlsx", T0, T0 + 1)  # type: ignore[arg-type]


async def test_wrong_port_or_database_is_unavailable_and_named(pg_dsn: str, pg_schema: str) -> None:
    port = free_port()
    store = PostgresStore(f"postgresql://postgres@127.0.0.1:{port}/test", schema=pg_schema, timeout_s=2)
    with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}/test"):
        await store.open()
    nodb = PostgresStore(make_conninfo(pg_dsn, dbname="no_such_db_xyz"), schema=pg_schema)
    with pytest.raises(StoreUnavailable, match=r":[0-9]+/no_such_db_xyz"):
        await nodb.open()
    with pytest.raises(StoreError, match="schema name"):
        PostgresStore("postgresql://x", schema="Robert'); DROP TABLE")


async def test_server_gone_mid_run_then_retry_stores_once(pg_dsn: str, pg_schema: str) -> None:
    info = conninfo_to_dict(pg_dsn)
    proxy = TcpProxy(str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432))
    await proxy.start()
    dsn = make_conninfo(pg_dsn, host="127.0.0.1", port=proxy.port)
    store = PostgresStore(dsn, schema=pg_schema, timeout_s=1)
    try:
        await store.open()
        await store.write([Sample("m", "t", T0 + i, float(i)) for i in range(100)])
        await proxy.stop()
        batch = [Sample("m", "t", T0 + i, float(i)) for i in range(50, 200)]
        with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{proxy.port}/"):
            await store.write(batch)
        await proxy.start()
        for _ in range(20):  # the caller retries with backoff until the server is back
            try:
                assert await store.write(batch) == 150
                break
            except StoreUnavailable:
                await asyncio.sleep(0.5)
        assert await count_rows(pg_dsn, pg_schema) == 200
    finally:
        await store.close()
        await proxy.stop()


async def test_a_second_process_sees_series_and_latest(pg_store: PostgresStore, pg_dsn: str) -> None:
    other = PostgresStore(pg_dsn, schema=pg_store.schema)
    await other.open()
    try:
        await other.write([Sample("far/away", "x", T0, 1.0), Sample("mill/m", "t", T0, 2.0)])
        await pg_store.write([Sample("mill/m", "t", T0 + 1, 3.0)])  # same series, ids agree
        assert [s.value for s in await pg_store.history("far/away", "x", T0, T0 + 1)] == [1.0]
        await other.reload_latest()
        assert {s.asset: s.value for s in await other.latest()} == {"far/away": 1.0, "mill/m": 3.0}
    finally:
        await other.close()
