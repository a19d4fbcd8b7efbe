"""``shopfloor bench detect``: scoring throughput of the default multivariate detector.

The default multivariate detector is :class:`~shopfloor.analytics.anomaly.MEWMA`,
fitted on 2,000 normal 8-sensor samples (correlated, as a pump's sensors are) and
then scoring ``n`` further samples on one core:

* ``score_one`` on dicts ``{sensor: value}`` (river's streaming shape, what the
  platform's streaming analytics calls per sample), p50/p99 latency per call; the
  headline rate is samples per CPU second of the scoring thread ("on one core"), the
  wall-clock rate is reported next to it (lower when the machine is shared); the other
  rates are per CPU second too;
* ``score_one`` on numpy vectors;
* ``score_many`` on one array (the batch path).

The reference is river's ``HalfSpaceTrees`` on the same dict samples, measured in
the same run when river is installed; otherwise its rate measured on this machine
when the issue was written (about 45k samples/s) is reported as ``reference_quoted``.
``vs_target`` is the dict rate over the 50k samples/s target.
"""

from __future__ import annotations

import platform
import resource
import time
from typing import Any

import numpy as np
import psutil

from ..analytics.anomaly import MEWMA

TARGET_PER_S = 50_000.0
REFERENCE_QUOTED_PER_S = 45_000.0
SENSORS = [f"s{i}" for i in range(8)]


def _data(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 3))
    mix = rng.normal(size=(3, 8))
    return latent @ mix + 0.3 * rng.normal(size=(n, 8)) + 20.0


def _river(rows: list[dict[str, float]]) -> dict[str, Any] | None:
    try:
        from river.anomaly import HalfSpaceTrees  # optional reference
    except ImportError:
        return None
    hst = HalfSpaceTrees(seed=1)
    for x in rows[:2000]:
        hst.learn_one(x)
    t0 = time.perf_counter()
    for x in rows:
        hst.score_one(x)
    dt = time.perf_counter() - t0
    return {"name": "river.anomaly.HalfSpaceTrees.score_one", "per_s": round(len(rows) / dt)}


def run(n: int = 200_000) -> dict[str, Any]:
    """Measure and return one JSON-ready dict."""
    proc = psutil.Process()
    cpu0 = proc.cpu_times()
    train = _data(2000, seed=1)
    X = _data(n)
    det = MEWMA().fit([dict(zip(SENSORS, r.tolist(), strict=True)) for r in train])
    rows = [dict(zip(SENSORS, r.tolist(), strict=True)) for r in X]

    lat = np.empty(min(n, 20_000))
    for i in range(len(lat)):
        t = time.perf_counter_ns()
        det.score_one(rows[i])
        lat[i] = time.perf_counter_ns() - t
    det.reset()
    t0, c0 = time.perf_counter(), time.process_time()
    for x in rows:
        det.score_one(x)
    dict_s, dict_cpu = time.perf_counter() - t0, time.process_time() - c0
    det.reset()
    c0 = time.process_time()
    for v in X:
        det.score_one(v)
    vec_s = time.process_time() - c0
    det.reset()
    c0 = time.process_time()
    det.score_many(X)
    batch_s = time.process_time() - c0

    cpu1 = proc.cpu_times()
    rate = n / dict_cpu  # one core's worth: CPU time of this single thread, immune to other load
    ref = _river(rows[: min(n, 50_000)])
    ref_rate = ref["per_s"] if ref else REFERENCE_QUOTED_PER_S
    return {
        "bench": "detect",
        "detector": "MEWMA (default multivariate)",
        "samples": n,
        "sensors": len(SENSORS),
        "score_one_dict_per_s": round(rate),
        "score_one_dict_wall_per_s": round(n / dict_s),
        "score_one_vector_per_s": round(n / vec_s),
        "score_many_per_s": round(n / batch_s),
        "latency_us": {
            "p50": round(float(np.percentile(lat, 50)) / 1000, 2),
            "p99": round(float(np.percentile(lat, 99)) / 1000, 2),
        },
        "target_per_s": TARGET_PER_S,
        "vs_target": round(rate / TARGET_PER_S, 2),
        "reference": ref or {"name": "river HalfSpaceTrees (quoted, not measured here)", "per_s": ref_rate},
        "vs_reference": round(rate / ref_rate, 2),
        "cpu_s": round((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
    }
