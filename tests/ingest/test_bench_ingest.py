"""``shopfloor bench ingest`` runs end to end (a short run: structure and stored points, not timings)."""

from __future__ import annotations

import json

from shopfloor.bench.ingest import run


def test_bench_ingest_short_run() -> None:
    steps: list[str] = []
    out = run(duration_s=1.5, publishers=1, shape="single", progress=lambda msg, frac: steps.append(msg))
    json.dumps(out)  # JSON-able
    assert out["bench"] == "ingest" and set(out) >= {"single", "targets", "peak_rss_mb", "wall_s"}
    single = out["single"]
    assert set(single) == {"bare", "pipeline", "vs_bare", "latency"}
    assert single["bare"]["received_messages"] > 0
    assert single["pipeline"]["stored_points"] > 0 and single["pipeline"]["rejected"] == 0
    assert single["pipeline"]["points_per_s"] > 0
    assert {"p50", "p99"} <= set(single["pipeline"]["latency_ms"])
    assert {"p50", "p99"} <= set(single["latency"])
    assert single["latency"]["stored_points"] > 0
    assert set(out["targets"]) == {"single_vs_bare", "p99_ms"}
    assert len(steps) == 3
