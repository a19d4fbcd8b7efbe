"""EmbeddedStore retention (rollups before deletion) and CSV/Parquet export."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from shopfloor.core.errors import QueryError
from shopfloor.core.sample import Quality, Sample
from shopfloor.core.settings import StoreSettings
from shopfloor.store.embedded import EmbeddedStore

T0 = 1_699_999_200_000_000_000  # 2023-11-14T22:00:00Z, a whole hour
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
DAY = 86_400 * SECOND


async def test_retention_rolls_up_then_deletes_raw(tmp_path: Path) -> None:
    settings = StoreSettings(retention_days=1, rollup_retention_days=10)  # type: ignore[call-arg]
    store = EmbeddedStore(tmp_path / "ts.duckdb", settings, hot_rows=500)
    await store.open()
    rng = np.random.default_rng(11)
    values = rng.normal(size=600)
    old = [Sample("m", "t", T0 + i * SECOND, float(v)) for i, v in enumerate(values)]  # 10 minutes
    recent = [Sample("m", "t", T0 + 3 * DAY + i * SECOND, 1.0) for i in range(30)]
    await store.write(old + recent)
    before = await store.aggregate(
        "m", "t", T0, T0 + 10 * MINUTE, 5 * MINUTE, ["avg", "min", "max", "count", "first", "last", "sum"]
    )
    now = T0 + 3 * DAY + 10 * MINUTE
    assert await store.enforce_retention(now) == 600
    stats = await store.stats()
    assert stats["raw_rows"] == 30 and stats["rollup_rows"] == 10
    assert await store.history("m", "t", T0, T0 + DAY) == []
    # whole-minute buckets over the old range come from the rollups, and agree with the raw result
    after = await store.aggregate(
        "m", "t", T0, T0 + 10 * MINUTE, 5 * MINUTE, ["avg", "min", "max", "count", "first", "last", "sum"]
    )
    assert [r["ts"] for r in after] == [r["ts"] for r in before] == [T0, T0 + 5 * MINUTE]
    for a, b in zip(after, before, strict=True):
        assert a["count"] == b["count"] == 300
        for agg in ("avg", "min", "max", "first", "last", "sum"):
            assert a[agg] == pytest.approx(b[agg]), agg
    # a bucket that is not whole minutes can only see raw rows
    assert await store.aggregate("m", "t", T0, T0 + 10 * MINUTE, 90 * SECOND) == []
    # a range straddling the horizon merges rollups and raw rows
    rows = await store.aggregate("m", "t", T0, now, DAY, ["count"])
    assert sum(r["count"] for r in rows) == 630
    assert len(await store.aggregate_all(T0, now, MINUTE, "count")) == 11
    assert [s.ts for s in await store.latest()] == [T0 + 3 * DAY + 29 * SECOND]
    # the horizon survives a restart
    await store.close()
    store = EmbeddedStore(tmp_path / "ts.duckdb", settings)
    await store.open()
    assert len(await store.aggregate("m", "t", T0, T0 + 10 * MINUTE, MINUTE)) == 10
    # rollups go too, after their own retention
    assert await store.enforce_retention(T0 + 20 * DAY) == 30
    assert (await store.stats())["rollup_rows"] == 0
    assert await store.series() == []
    await store.close()


async def test_retention_is_a_no_op_on_recent_data(store: EmbeddedStore) -> None:
    await store.write([Sample("m", "t", T0, 1.0)])
    assert await store.enforce_retention(T0 + DAY) == 0
    assert (await store.stats())["raw_rows"] == 1


@pytest.fixture
async def filled(store: EmbeddedStore) -> EmbeddedStore:
    await store.write(
        [
            Sample("mill/line1/cutter", "force", T0 + 123_456_789, 812.5),
            Sample("mill/line1/cutter", "state", T0 + SECOND, "cutting", Quality.UNCERTAIN),
            Sample("mill/line1/cutter", "running", T0 + 2 * SECOND, True),
            Sample("mill/line10/winder", "force", T0 + 3 * SECOND, 7),
            Sample("mill/line1/cutter", "force", T0 + MINUTE, 1.0),  # outside the exported range
        ]
    )
    return store


async def test_export_csv_reads_back(filled: EmbeddedStore, tmp_path: Path) -> None:
    path = tmp_path / "out" / "line1.csv"
    n = await filled.export(path, "csv", T0, T0 + MINUTE, asset="mill/line1")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert n == len(rows) == 3
    assert list(rows[0]) == ["asset", "tag", "time", "value", "quality", "text"]
    assert rows[0] == {
        "asset": "mill/line1/cutter",
        "tag": "force",
        "time": "2023-11-14T22:00:00.123456789Z",
        "value": "812.5",
        "quality": "192",
        "text": "",
    }
    assert rows[1]["text"] == "cutting" and rows[1]["value"] == "" and rows[1]["quality"] == "64"
    assert float(rows[2]["value"]) == 1.0


async def test_export_parquet_reads_back(filled: EmbeddedStore, tmp_path: Path) -> None:
    path = tmp_path / "all.parquet"
    assert await filled.export(path, "parquet", T0, T0 + MINUTE) == 4
    table = pq.read_table(path)
    assert table.column_names == ["asset", "tag", "time", "value", "quality", "text"]
    assert table.column("asset").to_pylist() == ["mill/line1/cutter"] * 3 + ["mill/line10/winder"]
    assert table.column("value").to_pylist() == [812.5, None, 1.0, 7.0]
    assert table.column("time").to_pylist()[3] == "2023-11-14T22:00:03.000000000Z"


async def test_export_refuses_bad_requests(filled: EmbeddedStore, tmp_path: Path) -> None:
    with pytest.raises(QueryError):
        await filled.export(tmp_path / "x.json", "json", T0, T0 + 1)  # type: ignore[arg-type]
    with pytest.raises(QueryError):
        await filled.export(tmp_path / "x.csv", "csv", T0, T0)
    assert await filled.export(tmp_path / "none.csv", "csv", T0, T0 + MINUTE, asset="nowhere") == 0
