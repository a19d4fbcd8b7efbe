"""``shopfloor bench store``: the embedded time-series store, end to end, next to raw DuckDB.

The data set: ``tags`` series (``bench/area<a>/line<l>/m<i>``, tag ``value``), each sampled at
one period so that ``points`` samples span six hours (10M points, 10k tags: one sample per tag
every 21.6 s), written in time order as a plant scan would deliver them.

Measured, in one run, each next to its target from the issue:

* batch write rate: ``write_columns`` (Arrow batches of 50k rows, one transaction each; the
  rate includes the compactions that sort rows by series, also reported apart), and
  separately ``write`` of :class:`Sample` objects (the ingest path) on up to 1M points;
* one-tag six-hour 1-minute rollup (avg, min, max, count), p50/p99 over repeated queries;
* all-tag 1-minute rollup over every point, as Arrow columns and as the list of dicts;
* latest value of every tag: unchanged since the last call (``latest_ms``), and right after a
  write that changed every tag (``latest_after_write_ms``, the write itself not timed).

Side by side, raw DuckDB does the same write (same Arrow batches into one plain table) and the
same rollups with no shopfloor layer; ``vs_raw`` is shopfloor's time over raw DuckDB's.
``vs_target`` is ≥ 1 when the target is met (target/measured for times, measured/target for
rates). CPU is process CPU time (all threads); ``peak_rss_mb`` the process's peak so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import psutil
import pyarrow as pa

from ..core.sample import Sample
from ..store.embedded import EmbeddedStore

TARGETS = {"write_points_per_s": 2_000_000, "one_tag_ms": 10.0, "all_tag_s": 1.5, "latest_ms": 20.0}
SPAN_NS = 6 * 3600 * 10**9
T0 = 1_699_999_200_000_000_000  # 2023-11-14T22:00:00Z
MINUTE = 60 * 10**9
BATCH_ROWS = 50_000
Progress = Callable[[str, float], None]


def _pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


def _latency(samples_s: list[float], unit: float, target: float | None) -> dict[str, Any]:
    p50, p99 = _pct(samples_s, 50) * unit, _pct(samples_s, 99) * unit
    out: dict[str, Any] = {"p50": round(p50, 3), "p99": round(p99, 3), "runs": len(samples_s)}
    if target is not None:
        out.update(
            target=target, vs_target=round(target / p50, 2) if p50 else None, meets_target=p50 <= target
        )
    return out


class _Cpu:
    """CPU seconds of this process spent inside a ``with`` block."""

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        start = time.process_time()
        try:
            yield
        finally:
            self.seconds += time.process_time() - start


def _layout(points: int, tags: int) -> tuple[int, int, int, list[tuple[str, str]]]:
    tags = max(1, min(tags, points))
    steps = max(1, points // tags)
    period = max(1, SPAN_NS // steps)
    keys = [(f"bench/area{i % 10}/line{i % 100}/m{i}", "value") for i in range(tags)]
    return tags, steps, period, keys


def _batches(
    tags: int, steps: int, period: int, seed: int = 1
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(series_index, ts, values) in time order, about BATCH_ROWS rows each."""
    rng = np.random.default_rng(seed)
    per = max(1, BATCH_ROWS // tags)
    index = np.arange(tags, dtype=np.int32)
    for k in range(0, steps, per):
        n = min(per, steps - k)
        ts = np.repeat(T0 + np.arange(k, k + n, dtype=np.int64) * period, tags)
        yield np.tile(index, n), ts, rng.normal(50.0, 5.0, size=n * tags)


async def _timed(fn: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - start)
    return out


async def write_all(
    store: Any, keys: list[tuple[str, str]], tags: int, steps: int, period: int, report: Progress
) -> tuple[int, float]:
    """Write the whole data set with ``store.write_columns``; (points written, seconds spent writing)."""
    written, elapsed = 0, 0.0
    for idx, ts, values in _batches(tags, steps, period):
        start = time.perf_counter()
        written += await store.write_columns(keys, idx, ts, values)
        elapsed += time.perf_counter() - start
        report("write", written / (tags * steps))
    return written, elapsed


def write_report(written: int, elapsed: float) -> dict[str, Any]:
    """Points, seconds and rate of a write phase, next to the write target."""
    rate = written / elapsed
    return {
        "points": written,
        "seconds": round(elapsed, 3),
        "points_per_s": round(rate),
        "target": TARGETS["write_points_per_s"],
        "vs_target": round(rate / TARGETS["write_points_per_s"], 2),
        "meets_target": rate >= TARGETS["write_points_per_s"],
    }


async def _bench_shopfloor(work: Path, points: int, tags: int, report: Progress, cpu: _Cpu) -> dict[str, Any]:
    tags, steps, period, keys = _layout(points, tags)
    store = EmbeddedStore(work / "timeseries.duckdb")
    await store.open()
    result: dict[str, Any] = {"tags": tags, "points": tags * steps, "period_s": period / 1e9}
    try:
        with cpu.measure():
            written, elapsed = await write_all(store, keys, tags, steps, period, report)
        result["write_columns"] = write_report(written, elapsed)
        compact_s = (await store.stats())["compaction_s"]
        result["write_columns"]["of_which_compaction_s"] = compact_s
        # for reading only: the rate if the sort-by-series compaction were free (it is not)
        result["write_columns"]["append_only_points_per_s"] = round(written / max(elapsed - compact_s, 1e-9))
        rng = np.random.default_rng(2)
        end = T0 + SPAN_NS

        async def one_tag() -> Any:
            asset, tag = keys[int(rng.integers(tags))]
            return await store.aggregate(asset, tag, T0, end, MINUTE)

        report("one-tag rollup", 0.0)
        await one_tag()  # warm
        with cpu.measure():
            result["one_tag_rollup_ms"] = _latency(await _timed(one_tag, 100), 1e3, TARGETS["one_tag_ms"])
        result["one_tag_rollup_ms"]["buckets"] = len(await one_tag())
        report("all-tag rollup", 0.0)
        with cpu.measure():
            arrow = await _timed(lambda: store.aggregate_all_arrow(T0, end, MINUTE, "avg"), 3)
            dicts = await _timed(lambda: store.aggregate_all(T0, end, MINUTE, "avg"), 2)
        result["all_tag_rollup_arrow_s"] = _latency(arrow, 1.0, TARGETS["all_tag_s"])
        result["all_tag_rollup_dicts_s"] = _latency(dicts, 1.0, TARGETS["all_tag_s"])
        result["all_tag_rollup_rows"] = (await store.aggregate_all_arrow(T0, end, MINUTE)).num_rows
        report("latest", 0.0)
        with cpu.measure():
            result["latest_ms"] = _latency(await _timed(store.latest, 50), 1e3, TARGETS["latest_ms"])
        result["latest_count"] = len(await store.latest())
        result["store_stats"] = await store.stats()
        fresh, index = [], np.arange(tags, dtype=np.int32)
        for k in range(20):
            ts_new = np.full(tags, end + k * period, dtype=np.int64)
            await store.write_columns(keys, index, ts_new, np.full(tags, float(k)))
            fresh += await _timed(store.latest, 1)
        result["latest_after_write_ms"] = _latency(fresh, 1e3, TARGETS["latest_ms"])
    finally:
        await store.close()
    return result


async def _bench_write_samples(
    work: Path, points: int, tags: int, report: Progress, cpu: _Cpu
) -> dict[str, Any]:
    """``write()`` of Sample objects (building them is not timed) into a separate store."""
    tags, steps, period, keys = _layout(min(points, 1_000_000), tags)
    store = EmbeddedStore(work / "samples.duckdb")
    await store.open()
    written, elapsed = 0, 0.0
    try:
        for idx, ts, values in _batches(tags, steps, period):
            batch = [
                Sample(keys[i][0], keys[i][1], t, v)
                for i, t, v in zip(idx.tolist(), ts.tolist(), values.tolist(), strict=True)
            ]
            with cpu.measure():
                start = time.perf_counter()
                written += await store.write(batch)
                elapsed += time.perf_counter() - start
            report("write samples", written / (tags * steps))
    finally:
        await store.close()
    return write_report(written, elapsed)


def _bench_raw(work: Path, points: int, tags: int, report: Progress) -> dict[str, Any]:
    """The same write and rollups on a plain DuckDB table, no shopfloor layer."""
    tags, steps, period, _ = _layout(points, tags)
    con = duckdb.connect(str(work / "raw.duckdb"))
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("CREATE TABLE samples(series_id INTEGER, ts BIGINT, value DOUBLE)")
        elapsed, written = 0.0, 0
        for idx, ts, values in _batches(tags, steps, period):
            con.register("batch", pa.table({"series_id": idx, "ts": ts, "value": values}))
            start = time.perf_counter()
            con.execute("INSERT INTO samples SELECT * FROM batch")
            elapsed += time.perf_counter() - start
            con.unregister("batch")
            written += len(ts)
            report("raw write", written / (tags * steps))
        bucket = f"ts - ts % {MINUTE}"
        one = (
            f"SELECT {bucket} AS b, avg(value), min(value), max(value), count(*) FROM samples"
            " WHERE series_id = $s AND ts >= $a AND ts < $e GROUP BY b ORDER BY b"
        )
        rng = np.random.default_rng(2)
        runs = []
        for _ in range(100):
            params = {"s": int(rng.integers(tags)), "a": T0, "e": T0 + SPAN_NS}
            start = time.perf_counter()
            con.execute(one, params).fetchall()
            runs.append(time.perf_counter() - start)
        every = f"SELECT series_id, {bucket} AS b, avg(value) FROM samples GROUP BY ALL ORDER BY ALL"
        all_runs = []
        for _ in range(3):
            start = time.perf_counter()
            con.sql(every).to_arrow_table()
            all_runs.append(time.perf_counter() - start)
    finally:
        con.close()
    return {
        "write_points_per_s": round(written / elapsed),
        "one_tag_rollup_ms": _latency(runs, 1e3, None),
        "all_tag_rollup_arrow_s": _latency(all_runs, 1.0, None),
    }


def run(
    points: int = 10_000_000,
    tags: int = 10_000,
    backend: str = "embedded",
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the store benchmark; returns one JSON-able dict (see the module docstring).

    ``workdir``: where the temporary files go (a fresh temporary directory inside it, removed
    afterwards). ``progress(phase, fraction)`` is called as the work goes on. Synchronous:
    call it from outside an event loop.
    """
    if backend != "embedded":
        raise ValueError(f"backend {backend!r} is not benchmarked yet: use 'embedded'")
    if points <= 0 or tags <= 0:
        raise ValueError("points and tags must be positive")
    report: Progress = progress or (lambda phase, fraction: None)
    proc = psutil.Process()
    cpu_start = time.process_time()
    load_start = round(os.getloadavg()[0], 2)  # other processes on the machine skew the timings
    wall_start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="shopfloor-bench-store-", dir=workdir))
    cpu = _Cpu()
    try:
        ours = asyncio.run(_bench_shopfloor(work, points, tags, report, cpu))
        ours["write_samples"] = asyncio.run(_bench_write_samples(work, points, tags, report, cpu))
        raw = _bench_raw(work, points, tags, report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    ours_rate = ours["write_columns"]["points_per_s"]
    return {
        "bench": "store",
        "backend": backend,
        "data": {
            "points": ours["points"],
            "tags": ours["tags"],
            "span_h": SPAN_NS / 3.6e12,
            "period_s": ours["period_s"],
            "batch_rows": BATCH_ROWS,
        },
        "shopfloor": {k: v for k, v in ours.items() if k not in ("points", "tags", "period_s")},
        "raw_duckdb": raw,
        "vs_raw": {
            "write": round(raw["write_points_per_s"] / ours_rate, 2) if ours_rate else None,
            "one_tag_rollup": round(ours["one_tag_rollup_ms"]["p50"] / raw["one_tag_rollup_ms"]["p50"], 2),
            "all_tag_rollup_arrow": round(
                ours["all_tag_rollup_arrow_s"]["p50"] / raw["all_tag_rollup_arrow_s"]["p50"], 2
            ),
            "note": "shopfloor time / raw DuckDB time (> 1: shopfloor is slower)",
        },
        "targets": TARGETS,
        "cpu_s": {
            "total": round(time.process_time() - cpu_start, 2),
            "measured_phases": round(cpu.seconds, 2),
        },
        "wall_s": round(time.perf_counter() - wall_start, 2),
        "peak_rss_mb": round(rss_peak, 1),
        "rss_mb_end": round(proc.memory_info().rss / 2**20, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1m": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
        },
    }
