"""EmbeddedStore: round trips, latest, history, persistence, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopfloor.core.errors import StoreError, StoreUnavailable
from shopfloor.core.sample import Quality, Sample
from shopfloor.store.embedded import EmbeddedStore

T0 = 1_699_999_200_000_000_000  # 2023-11-14T22:00:00Z, a whole hour
SECOND = 1_000_000_000
MINUTE = 60 * SECOND

CUTTER = "mill/converting/line1/cutter"


async def test_compaction_keeps_every_row(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "ts.duckdb", hot_rows=1000)
    await store.open()
    n = 0
    for k in range(5):
        batch = [
            Sample(f"m{i % 7}", "t", T0 + (k * 600 + i) * SECOND, float(k * 600 + i)) for i in range(600)
        ]
        n += await store.write(batch)
    stats = await store.stats()
    assert stats["raw_rows"] == n == 3000 and stats["hot_rows"] < 1000
    rows = await store.history("m3", "t", T0, T0 + 3000 * SECOND)
    assert [s.value for s in rows] == [float(v) for v in range(3000) if v % 600 % 7 == 3]
    await store.close()


async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ts.duckdb"
    store = EmbeddedStore(path, hot_rows=50)
    await store.open()
    await store.write([Sample("a/b", "x", T0 + i, float(i)) for i in range(80)])
    await store.write([Sample("a/b", "s", T0, "on"), Sample("a/c", "n", T0, 3)])
    await store.close()
    await store.close()  # twice is fine
    again = EmbeddedStore(path)
    await again.open()
    assert len(await again.history("a/b", "x", T0, T0 + 100)) == 80
    latest = {(s.asset, s.tag): s.value for s in await again.latest()}
    assert latest == {("a/b", "x"): 79.0, ("a/b", "s"): "on", ("a/c", "n"): 3}
    assert await again.series() == [("a/b", "s"), ("a/b", "x"), ("a/c", "n")]
    await again.write([Sample("a/d", "y", T0, 1.0)])  # new ids continue after the old ones
    assert (await again.history("a/d", "y", T0, T0 + 1))[0].value == 1.0
    assert (await again.stats())["series"] == 4
    await again.close()


async def test_write_columns_matches_write(store: EmbeddedStore) -> None:
    series = [("m1", "a"), ("m2", "b")]
    idx = np.array([0, 1, 0, 1])
    ts = np.array([T0, T0, T0 + SECOND, T0 + SECOND])
    assert await store.write_columns(series, idx, ts, np.array([1.0, 2.0, 3.0, 4.0])) == 4
    await store.write_columns(
        [("m3", "n")], np.array([0]), np.array([T0]), np.array([5]), np.array([64], dtype=np.uint8)
    )
    got = {(s.asset, s.tag): (s.value, s.quality) for s in await store.latest()}
    assert got == {
        ("m1", "a"): (3.0, Quality.GOOD),
        ("m2", "b"): (4.0, Quality.GOOD),
        ("m3", "n"): (5, Quality.UNCERTAIN),
    }
    with pytest.raises(StoreError):
        await store.write_columns(series, idx, ts, np.array([1.0]))


async def test_bad_values_are_refused_before_anything_is_written(store: EmbeddedStore) -> None:
    with pytest.raises(StoreError, match="list"):
        await store.write([Sample("a", "t", T0, 1.0), Sample("a", "u", T0, [1, 2])])  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="nanoseconds"):
        await store.write([Sample("a", "t", 1.5e18, 1.0)])  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="nanoseconds"):
        await store.write([Sample("a", "t", 2**70, 1.0)])
    assert await store.latest() == [] and (await store.stats())["raw_rows"] == 0
    assert await store.write([]) == 0


async def test_second_process_gets_a_clear_lock_error(store: EmbeddedStore, tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import asyncio, sys\n"
        "from shopfloor.store.embedded import EmbeddedStore\n"
        "from shopfloor.core.errors import StoreUnavailable\n"
        "try:\n"
        f"    asyncio.run(EmbeddedStore({str(store.path)!r}).open())\n"
        "except StoreUnavailable as err:\n"
        "    print(err); sys.exit(3)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 3, out.stderr
    assert "one process" in out.stdout


async def test_closed_store_is_unavailable(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "x.duckdb")
    with pytest.raises(StoreUnavailable):
        await store.stats()
    bad = tmp_path / "not-a-db.duckdb"
    bad.write_bytes(b"this is not a database file" * 1000)
    with pytest.raises(StoreUnavailable):
        await EmbeddedStore(bad).open()


async def test_a_cancelled_write_still_lands_consistently(store: EmbeddedStore) -> None:
    import asyncio

    batch = [Sample(f"m{i}", "t", T0, float(i)) for i in range(20_000)]
    task = asyncio.create_task(store.write(batch))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # whatever the file holds, memory agrees with it, and new series get fresh ids
    stats = await store.stats()
    assert stats["series"] == len(await store.series()) == len(await store.latest())
    await store.write([Sample("new", "t", T0, 1.0)])
    assert (await store.history("new", "t", T0, T0 + 1))[0].value == 1.0


async def test_a_killed_process_loses_nothing_it_wrote(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "ts.duckdb"
    code = (
        "import asyncio, os\n"
        "from shopfloor.core.sample import Sample\n"
        "from shopfloor.store.embedded import EmbeddedStore\n"
        "async def main():\n"
        f"    s = EmbeddedStore({str(path)!r}, hot_rows=150)\n"
        "    await s.open()\n"
        "    for k in range(3):\n"
        f"        await s.write([Sample('m', 't', {T0} + k * 100 + i, float(i)) for i in range(100)])\n"
        f"    await s.write([Sample('m', 's', {T0}, 'on')])\n"
        "    os._exit(0)  # no close, no checkpoint\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    store = EmbeddedStore(path)
    await store.open()
    assert len(await store.history("m", "t", T0, T0 + 1000)) == 300
    assert {s.tag: s.value for s in await store.latest()} == {"t": 99.0, "s": "on"}
    await store.close()
