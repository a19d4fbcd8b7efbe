"""EmbeddedStore.aggregate and aggregate_all, checked against numpy on random data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shopfloor.core.errors import QueryError
from shopfloor.core.sample import Sample
from shopfloor.store.base import AGGREGATES
from shopfloor.store.embedded import EmbeddedStore

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
async def random_series(store: EmbeddedStore) -> tuple[np.ndarray, np.ndarray]:
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
    store: EmbeddedStore, random_series: tuple[np.ndarray, np.ndarray], bucket: int
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


async def test_buckets_are_aligned_to_the_epoch(store: EmbeddedStore) -> None:
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


async def test_aggregates_of_bool_int_and_str(store: EmbeddedStore) -> None:
    await store.write([Sample("a", "on", T0 + i, i % 4 == 0) for i in range(8)])
    await store.write([Sample("a", "state", T0 + i, "run") for i in range(3)])
    (row,) = await store.aggregate("a", "on", T0, T0 + MINUTE, MINUTE, ["avg", "count", "sum"])
    assert row == {"ts": T0, "avg": 0.25, "count": 8, "sum": 2.0}
    (row,) = await store.aggregate("a", "state", T0, T0 + MINUTE, MINUTE, ["count", "avg"])
    assert row == {"ts": T0, "count": 3, "avg": None}
    assert await store.aggregate("a", "nope", T0, T0 + MINUTE, MINUTE) == []


async def test_aggregate_all_covers_every_series(store: EmbeddedStore) -> None:
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
    store: EmbeddedStore, start: int, end: int, bucket: int, aggs: list[str], match: str
) -> None:
    await store.write([Sample("a", "t", T0, 1.0)])
    with pytest.raises(QueryError, match=match):
        await store.aggregate("a", "t", start, end, bucket, aggs)
    with pytest.raises(QueryError, match=match):
        await store.aggregate_all(start, end, bucket, aggs[0] if aggs else "")
