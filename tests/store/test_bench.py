"""``bench store`` runs end to end at a tiny size and reports every number it promises."""

from __future__ import annotations

import json
from pathlib import Path

from shopfloor.bench.store import TARGETS, run

from .conftest_pg import pg_dsn  # noqa: F401  (fixture)


def test_bench_store_small_run_reports_sane_numbers(tmp_path: Path) -> None:
    phases: list[str] = []
    result = run(points=20_000, tags=200, workdir=tmp_path, progress=lambda phase, _: phases.append(phase))
    json.dumps(result)  # JSON-able
    assert list(tmp_path.iterdir()) == []  # temporary files are gone
    assert {"write", "write samples", "raw write", "latest"} <= set(phases)
    assert result["data"]["points"] == 20_000 and result["data"]["tags"] == 200
    ours, raw = result["shopfloor"], result["raw_duckdb"]
    assert ours["write_columns"]["points"] == 20_000 and ours["write_columns"]["points_per_s"] > 0
    assert ours["write_samples"]["points"] == 20_000
    assert ours["one_tag_rollup_ms"]["buckets"] == 100  # one sample per tag every 216 s over six hours
    assert 0 < ours["one_tag_rollup_ms"]["p50"] <= ours["one_tag_rollup_ms"]["p99"]
    assert ours["one_tag_rollup_ms"]["target"] == TARGETS["one_tag_ms"]
    assert ours["all_tag_rollup_rows"] == 200 * 100
    assert ours["latest_count"] == 200 and ours["store_stats"]["raw_rows"] == 20_000
    assert raw["write_points_per_s"] > 0 and raw["one_tag_rollup_ms"]["p50"] > 0
    assert set(result["vs_raw"]) >= {"write", "one_tag_rollup", "all_tag_rollup_arrow"}
    assert result["peak_rss_mb"] > 0 and result["cpu_s"]["total"] > 0


def test_bench_store_postgres_small_run(pg_dsn: str) -> None:  # noqa: F811
    from shopfloor.bench.store_pg import run as run_pg

    result = run_pg(points=20_000, tags=200, dsn=pg_dsn)
    json.dumps(result)
    ours, raw = result["shopfloor"], result["raw_postgres"]
    assert result["backend"] == "postgres" and result["data"]["points"] == 20_000
    assert ours["write_columns"]["points"] == 20_000 and ours["write_columns"]["points_per_s"] > 0
    assert ours["latest_count"] == 200
    assert 0 < ours["one_tag_rollup_ms"]["p50"] <= ours["one_tag_rollup_ms"]["p99"]
    assert raw["write_points_per_s"] > 0 and set(result["vs_raw"]) >= {"write", "one_tag_rollup"}
