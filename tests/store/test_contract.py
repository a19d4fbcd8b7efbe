"""The store contract: every TimeSeriesStore backend (embedded DuckDB, PostgreSQL) passes these.

Round trips of every value type, latest with the asset-subtree filter, half-open history ranges,
and every aggregate checked against numpy on random data.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shopfloor.core.errors import QueryError
from shopfloor.core.sample import Quality, Sample
from shopfloor.core.settings import StoreSettings
from shopfloor.store.base import AGGREGATES, TimeSeriesStore
from shopfloor.store.embedded import EmbeddedStore

from .conftest_pg import pg_dsn  # noqa: F401  (fixture)


@pytest.fixture(params=["embedded", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TimeSeriesStore]:
    if request.param == "embedded":
        s: TimeSeriesStore = EmbeddedStore(tmp_path / "data" / "timeseries.duckdb", StoreSettings())  # type: ignore[call-arg]
        await s.open()
        yield s
        await s.close()
        return
    import psycopg

    from shopfloor.store.postgres import PostgresStore

    dsn = request.getfixturevalue("pg_dsn")  # skips (fails under CI) without a server
    schema = "t_" + uuid.uuid4().hex[:12]
    s = PostgresStore(dsn, StoreSettings(), schema=schema)  # type: ignore[call-arg]
    await s.open()
    try:
        yield s
    finally:
        await s.close()
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


T0 = 1_699_999_200_000_000_000  # 2023-11-14T22:00:00Z, a whole hour
SECOND = 1_000_000_000
MINUTE = 60 * SECOND


def expected(
    ts: np.ndarray, values: np.ndarray, start: int, end: int, bucket: int
) -> dict[int, dict[str, Any]]:
    """Reference aggregates computed with numpy, bucket start -> {agg: value}."""
    keep = (ts >= start) & (ts < end)
    ts, values = ts[keep], values[keep]
    buckets = ts - np.mod(ts, bucket)
    out: dict[int, dict[str, Any]] = {}
    for b in np.unique(buckets):
        sel = buckets == b
        v, t = values[sel], ts[sel]
        out[int(b)] = {
            "avg": v.mean(),
            "min": v.min(),
            "max": v.max(),
            "count": int(sel.sum()),
            "sum": v.sum(),
            "first": v[np.argmin(t)],
            "last": v[np.argmax(t)],
        }
    return out


@pytest.fixture
async def random_series(store: TimeSeriesStore) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 5000
    ts = T0 + np.sort(rng.choice(4 * 3600, size=n, replace=False)).astype(np.int64) * SECOND
    ts += rng.integers(0, SECOND, size=n)  # sub-second times, unique
    values = rng.normal(50.0, 10.0, size=n)
    order = rng.permutation(n)  # written out of order, in batches
    for chunk in np.array_split(order, 7):
        await store.write([Sample("mill/line1/m", "temp", int(ts[i]), float(values[i])) for i in chunk])
    await store.write([Sample("mill/line1/m", "other", int(t), 1.0) for t in ts[:100]])
    return ts, values


@pytest.mark.parametrize("bucket", [MINUTE, 7 * SECOND, 3600 * SECOND])
async def test_every_aggregate_matches_numpy(
    store: TimeSeriesStore, random_series: tuple[np.ndarray, np.ndarray], bucket: int
) -> None:
    ts, values = random_series
    start, end = T0 + 123 * SECOND, T0 + 3 * 3600 * SECOND + 17
    got = await store.aggregate("mill/line1/m", "temp", start, end, bucket, AGGREGATES)
    want = expected(ts, values, start, end, bucket)
    assert [row["ts"] for row in got] == sorted(want)
    for row in got:
        ref = want[row["ts"]]
        assert row["count"] == ref["count"]
        for agg in ("avg", "min", "max", "sum", "first", "last"):
            assert row[agg] == pytest.approx(ref[agg], rel=1e-9), (agg, row["ts"])


async def test_buckets_are_aligned_to_the_epoch(store: TimeSeriesStore) -> None:
    await store.write([Sample("a", "t", T0 + 30 * SECOND + i * SECOND, float(i)) for i in range(60)])
    got = await store.aggregate("a", "t", T0, T0 + 2 * MINUTE, MINUTE, ["count", "first", "last"])
    assert got == [
        {"ts": T0, "count": 30, "first": 0.0, "last": 29.0},
        {"ts": T0 + MINUTE, "count": 30, "first": 30.0, "last": 59.0},
    ]
    before_1970 = [Sample("old", "t", -90 * SECOND, 1.0), Sample("old", "t", -30 * SECOND, 2.0)]
    await store.write(before_1970)
    got = await store.aggregate("old", "t", -10 * MINUTE, 0, MINUTE, ["avg"])
    assert got == [{"ts": -2 * MINUTE, "avg": 1.0}, {"ts": -MINUTE, "avg": 2.0}]


async def test_aggregates_of_bool_int_and_str(store: TimeSeriesStore) -> None:
    await store.write([Sample("a", "on", T0 + i, i % 4 == 0) for i in range(8)])
    await store.write([Sample("a", "state", T0 + i, "run") for i in range(3)])
    (row,) = await store.aggregate("a", "on", T0, T0 + MINUTE, MINUTE, ["avg", "count", "sum"])
    assert row == {"ts": T0, "avg": 0.25, "count": 8, "sum": 2.0}
    (row,) = await store.aggregate("a", "state", T0, T0 + MINUTE, MINUTE, ["count", "avg"])
    assert row == {"ts": T0, "count": 3, "avg": None}
    assert await store.aggregate("a", "nope", T0, T0 + MINUTE, MINUTE) == []


async def test_aggregate_all_covers_every_series(store: TimeSeriesStore) -> None:
    rng = np.random.default_rng(3)
    data = {(f"m{i}", "t"): rng.random(90) for i in range(5)}
    await store.write(
        [Sample(a, t, T0 + j * SECOND, float(v)) for (a, t), vals in data.items() for j, v in enumerate(vals)]
    )
    rows = await store.aggregate_all(T0, T0 + 2 * MINUTE, MINUTE, "max")
    assert len(rows) == 10
    for row in rows:
        vals = data[(row["asset"], row["tag"])]
        part = vals[:60] if row["ts"] == T0 else vals[60:]
        assert row["value"] == pytest.approx(part.max())
    if isinstance(store, EmbeddedStore):  # the Arrow form is the embedded store's own
        table = await store.aggregate_all_arrow(T0, T0 + 2 * MINUTE, MINUTE, "count")
        assert table.column_names == ["series_id", "ts", "value"]
        assert sorted(table.column("value").to_pylist()) == [30] * 5 + [60] * 5


@pytest.mark.parametrize(
    ("start", "end", "bucket", "aggs", "match"),
    [
        (T0, T0 + MINUTE, MINUTE, ["median"], "median"),
        (T0, T0 + MINUTE, 0, ["avg"], "bucket"),
        (T0, T0 + MINUTE, -MINUTE, ["avg"], "bucket"),
        (T0 + MINUTE, T0, MINUTE, ["avg"], "range"),
        (T0, T0, MINUTE, ["avg"], "range"),
        (T0, T0 + MINUTE, MINUTE, [], "aggregate"),
    ],
)
async def test_bad_queries_raise_query_error(
    store: TimeSeriesStore, start: int, end: int, bucket: int, aggs: list[str], match: str
) -> None:
    await store.write([Sample("a", "t", T0, 1.0)])
    with pytest.raises(QueryError, match=match):
        await store.aggregate("a", "t", start, end, bucket, aggs)
    with pytest.raises(QueryError, match=match):
        await store.aggregate_all(start, end, bucket, aggs[0] if aggs else "")


CUTTER = "mill/converting/line1/cutter"


async def test_round_trip_keeps_types_and_quality(store: TimeSeriesStore) -> None:
    written = [
        Sample(CUTTER, "force", T0, 812.5),
        Sample(CUTTER, "count", T0, 42, Quality.UNCERTAIN),
        Sample(CUTTER, "running", T0, True),
        Sample(CUTTER, "state", T0, "cutting", Quality.BAD),
        Sample(CUTTER, "running", T0 + SECOND, False),
        Sample(CUTTER, "count", T0 + SECOND, -7),
    ]
    assert await store.write(written) == 6
    got = {
        (s.tag, s.ts): s
        for tag in ("force", "count", "running", "state")
        for s in await store.history(CUTTER, tag, T0, T0 + MINUTE)
    }
    assert got[("force", T0)].value == 812.5 and type(got[("force", T0)].value) is float
    assert got[("count", T0)].value == 42 and type(got[("count", T0)].value) is int
    assert got[("count", T0)].quality is Quality.UNCERTAIN
    assert got[("count", T0 + SECOND)].value == -7
    assert got[("running", T0)].value is True and got[("running", T0 + SECOND)].value is False
    assert got[("state", T0)].value == "cutting" and got[("state", T0)].quality is Quality.BAD
    assert len(got) == 6


async def test_mixed_types_in_one_series_come_back_as_written(store: TimeSeriesStore) -> None:
    values = [1.5, 2, True, "x", float("nan")]
    await store.write([Sample("a", "v", T0 + i, v) for i, v in enumerate(values)])
    back = [s.value for s in await store.history("a", "v", T0, T0 + 10)]
    assert back[:4] == [1.5, 2, True, "x"] and [type(v) for v in back[:4]] == [float, int, bool, str]
    assert math.isnan(back[4])


async def test_latest_is_newest_per_series_and_filters_on_path_segments(store: TimeSeriesStore) -> None:
    await store.write(
        [
            Sample("mill/line1/cutter", "force", T0 + 2 * SECOND, 3.0),
            Sample("mill/line1/cutter", "force", T0 + 5 * SECOND, 5.0),
            Sample("mill/line1/cutter", "force", T0 + 1 * SECOND, 1.0),  # older, out of order
            Sample("mill/line1", "speed", T0, 9.0),
            Sample("mill/line10/winder", "force", T0, 10.0),
            Sample("mill/line1/cutter/blade", "state", T0, "sharp"),
        ]
    )
    await store.write([Sample("mill/line1/cutter", "force", T0 + 4 * SECOND, 4.0)])  # older than known
    everything = await store.latest()
    assert [(s.asset, s.tag, s.value) for s in everything] == [
        ("mill/line1", "speed", 9.0),
        ("mill/line1/cutter", "force", 5.0),
        ("mill/line1/cutter/blade", "state", "sharp"),
        ("mill/line10/winder", "force", 10.0),
    ]
    line1 = await store.latest("mill/line1")
    assert {s.asset for s in line1} == {"mill/line1", "mill/line1/cutter", "mill/line1/cutter/blade"}
    assert {s.asset for s in await store.latest("mill/line1/")} == {s.asset for s in line1}
    assert [s.asset for s in await store.latest("mill/line10")] == ["mill/line10/winder"]
    assert await store.latest("mill/line") == []
    assert (await store.latest("mill/line1/cutter"))[0].ts == T0 + 5 * SECOND


async def test_history_range_is_half_open_ordered_and_limited(store: TimeSeriesStore) -> None:
    await store.write([Sample("a", "t", T0 + i * SECOND, float(i)) for i in reversed(range(10))])
    got = await store.history("a", "t", T0 + 2 * SECOND, T0 + 5 * SECOND)
    assert [s.value for s in got] == [2.0, 3.0, 4.0]
    assert [s.value for s in await store.history("a", "t", T0, T0 + 10 * SECOND, limit=3)] == [0.0, 1.0, 2.0]
    assert await store.history("a", "t", T0 + 10 * SECOND, T0 + 20 * SECOND) == []
    assert await store.history("a", "nope", T0, T0 + 20 * SECOND) == []
    with pytest.raises(QueryError):
        await store.history("a", "t", T0, T0)
