"""``shopfloor bench tinyml``: edge models exported to C and NumPy, proven equal and measured.

Use cases, each against its reference in the same run:

* ``vibration``: bearing fault class of a 2048-sample vibration segment (CWRU, 12 kHz drive end,
  first 70 % of every record trains with speed perturbation, the rest tests, as ``shopfloor eval
  cwru``). The compact forest (C, features in C too) against the full analytics model on the same
  features: accuracy gap, flash (target <= 16 KB: a whole Cortex-M4 program where the ARM
  toolchain is installed, else the larger host object + 2 KB), µs per segment including feature extraction
  (target <= 50 µs), class agreement with scikit-learn (target >= 99.9 %). An MLP (float and int8)
  and a Gaussian-mixture fault detector on the same features are exported and verified too.
* ``pump``: the SKAB pump anomaly detector (Gaussian mixture on the 8 scaled sensors, trained on
  each file's first 400 rows as the SKAB protocol): C and runtime agreement with scikit-learn,
  µs per row, outlier F1 on the labels for information.
* ``runtime``: the NumPy edge runtime, rows per CPU second on one core (target >= 20k/s), batched
  (1,000 rows per call) and per row (``predict_one``), next to scikit-learn's ``predict`` on the
  same batches.

Data come from ``$SHOPFLOOR_DATASETS/{cwru,skab}`` (default ``../shared/datasets`` or
``/work/shared/datasets``); when a data set is absent the bench generates data (the simulated
plant's bearing vibration, correlated pump sensors) and says so in ``data``.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..tinyml.cli import load_cwru, load_skab
from ..tinyml.model import TinyModel
from ..tinyml.runtime import Runtime
from ..tinyml.usecases import pump_detector, vibration_classifier, vibration_detector, vibration_mlp
from ..tinyml.verify import verify

log = logging.getLogger(__name__)

SEGMENT = 2048
FLASH_TARGET = 16 * 1024
US_TARGET = 50.0
RATE_TARGET = 20_000.0


def _root(name: str) -> Path | None:
    env = os.environ.get("SHOPFLOOR_DATASETS")
    for base in [Path(env)] if env else [Path("../shared/datasets"), Path("/work/shared/datasets")]:
        if (base / name).is_dir():
            return base / name
    return None


def _cwru() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    root = _root("cwru")
    if root is None:
        return (*_generated_vibration(), "generated (simulated bearing vibration; CWRU not found)")
    return (*load_cwru(root), f"CWRU {root}")


def _generated_vibration(per_class: int = 60, seed: int = 3) -> tuple[np.ndarray, ...]:
    from ..analytics.maintenance.features import SKF_6205
    from ..sim.vibration import synthesize

    rng = np.random.default_rng(seed)
    shaft = 29.95
    freqs = SKF_6205.frequencies(shaft)
    kinds = {"normal": {}, "OR": {"outer": 0.5}, "IR": {"inner": 0.5}, "B": {"ball": 0.5}}
    X, y = [], []
    for label, kw in kinds.items():
        for _ in range(per_class):
            X.append(synthesize(rng, SEGMENT, shaft, freqs, fs=12000.0, **kw))
            y.append(label)
    X, y = np.array(X), np.array(y)
    test = np.arange(len(y)) % 3 == 0
    return X[~test], y[~test], X[test], y[test]


def _skab() -> tuple[list[tuple[str, np.ndarray, np.ndarray]], str]:
    root = _root("skab")
    if root is None:
        return _generated_pump(), "generated (correlated pump sensors with injected faults; SKAB not found)"
    return load_skab(root), f"SKAB {root}"


def _generated_pump(
    files: int = 4, rows: int = 1200, seed: int = 5
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(3, 8))
    out = []
    for i in range(files):
        X = rng.normal(size=(rows, 3)) @ mix + 0.2 * rng.normal(size=(rows, 8)) + 10.0
        y = np.zeros(rows, dtype=int)
        y[800:1000] = 1
        X[800:1000, i % 8] += 2.5
        out.append((f"generated/{i}", X, y))
    return out


def _verified(model: TinyModel, seconds: float = 0.2) -> dict[str, Any]:
    res = verify(model, seconds=seconds)
    keys = (
        "agreement_reference",
        "agreement_runtime",
        "max_score_diff_reference",
        "max_feature_diff",
        "us_per_inference",
        "flash_bytes",
        "ram_bytes",
        "cortex_m4_flash_bytes",
        "cortex_m4_linked_flash_bytes",
        "passed",
        "quantize",
    )
    return {k: res.get(k) for k in keys}


def _rate(fn: Any, X: np.ndarray, seconds: float = 0.5) -> float:
    """Rows per CPU second (one core: the process runs single-threaded numpy here)."""
    n, t0 = 0, time.process_time()
    while True:
        fn(X)
        n += len(X)
        dt = time.process_time() - t0
        if dt >= seconds:
            return round(n / dt)


def _one_rate(rt: Runtime, X: np.ndarray, rows: int = 300) -> float:
    t0 = time.process_time()
    for x in X[:rows]:
        rt.predict_one(x)
    return round(min(rows, len(X)) / (time.process_time() - t0))


def _f1(pred: np.ndarray, y: np.ndarray) -> float:
    tp, fp, fn = int(np.sum(pred & y)), int(np.sum(pred & ~y)), int(np.sum(~pred & y))
    return round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0


def _pump(files: list[tuple[str, np.ndarray, np.ndarray]]) -> tuple[dict[str, Any], TinyModel]:
    agree, agree_rt, diffs, us, flash, m4, n = [], [], [], [], [], [], 0
    tp_pred, tp_true = [], []
    model = None
    for name, X, y in files:
        model = pump_detector(X[:400], X[400:], name="skab-pump")
        res = verify(model, seconds=0.02)
        n += res["rows"]
        agree.append(res["agreement_reference"] * res["rows"])
        agree_rt.append(res["agreement_runtime"] * res["rows"])
        diffs.append(res["max_score_diff_reference"])
        us.append(res["us_per_inference"])
        flash.append(res["flash_bytes"])
        m4.append(res["cortex_m4_flash_bytes"] or 0)
        tp_pred.append(Runtime(model).predict(X[400:]).astype(bool))
        tp_true.append(np.asarray(y[400:]) == 1)
        log.info("pump %s verified", name)
    assert model is not None
    out = {
        "files": len(files),
        "rows": n,
        "model": "GaussianMixture(2, full) on 8 scaled sensors, per file trained on rows 0-399",
        "agreement_reference": round(sum(agree) / n, 6),
        "agreement_runtime": round(sum(agree_rt) / n, 6),
        "max_score_diff_reference": float(max(diffs)),
        "us_per_inference_mean": round(float(np.mean(us)), 3),
        "flash_bytes": int(max(flash)),
        "cortex_m4_flash_bytes": int(max(m4)) or None,
        "outlier_f1": _f1(np.concatenate(tp_pred), np.concatenate(tp_true)),
    }
    return out, model


def run() -> dict[str, Any]:
    """The whole bench; one JSON-able dict."""
    t_start = time.perf_counter()
    Str, ytr, Ste, yte, vib_data = _cwru()
    forest, vib = vibration_classifier(Str, ytr, Ste, yte, name="cwru-vibration")
    vib["c"] = _verified(forest)
    mlp, mlp_rep = vibration_mlp(Str, ytr, Ste, yte, name="cwru-mlp")
    mlp_q, mlp_q_rep = vibration_mlp(Str, ytr, Ste, yte, name="cwru-mlp-int8", quantize="int8")
    normal = "normal" if "normal" in set(ytr.tolist()) else sorted(set(ytr.tolist()))[0]
    gmm, gmm_rep = vibration_detector(Str[ytr == normal], Ste, yte != normal, name="cwru-detector")
    files, pump_data = _skab()
    pump, pump_model = _pump(files)

    F = Runtime(forest).features(Ste)
    batch = np.resize(F, (1000, F.shape[1]))
    seg_batch = np.resize(Ste, (256, Ste.shape[1]))
    rt_forest, rt_mlp, rt_pump = Runtime(forest), Runtime(mlp), Runtime(pump_model)
    pump_rows = np.resize(files[0][1], (1000, 8))
    runtime = {
        "forest_rows_per_s": _rate(rt_forest.scores_features, batch),
        "mlp_rows_per_s": _rate(rt_mlp.scores_features, batch),
        "pump_gmm_rows_per_s": _rate(rt_pump.scores, pump_rows),
        "forest_segments_per_s_with_features": _rate(rt_forest.scores, seg_batch),
        "pump_predict_one_per_s": _one_rate(rt_pump, pump_rows),
        "batch_rows": 1000,
    }
    runtime["vs_target"] = round(
        min(runtime["forest_rows_per_s"], runtime["pump_gmm_rows_per_s"], runtime["mlp_rows_per_s"])
        / RATE_TARGET,
        2,
    )
    try:
        from sklearn.ensemble import RandomForestClassifier  # the reference, same batches

        sk = RandomForestClassifier(
            n_estimators=vib["compact_trees"],
            max_leaf_nodes=vib["compact_max_leaves"],
            random_state=0,
            n_jobs=1,
        ).fit(Runtime(forest).features(Str), ytr)
        runtime["reference_sklearn_forest_rows_per_s"] = _rate(sk.predict_proba, batch)
    except ImportError:
        runtime["reference_sklearn_forest_rows_per_s"] = None

    c = vib["c"]
    targets = {
        "vibration_flash_le_16KB": vib["compact_flash_bytes"] <= FLASH_TARGET,
        "vibration_accuracy_within_1_point": vib["accuracy_gap_points"] <= 1.0,
        "vibration_c_us_le_50": c["us_per_inference"] <= US_TARGET,
        "vibration_agreement_ge_99_9": (c["agreement_reference"] or 0) >= 0.999,
        "pump_agreement_ge_99_9": pump["agreement_reference"] >= 0.999,
        "runtime_ge_20k_rows_per_s": runtime["vs_target"] >= 1.0,
    }
    return {
        "bench": "tinyml",
        "host": f"{platform.machine()} {platform.processor() or platform.system()}",
        "data": {"vibration": vib_data, "pump": pump_data},
        "vibration": vib,
        "vibration_mlp": {**mlp_rep, "c": _verified(mlp, 0.05)},
        "vibration_mlp_int8": {**mlp_q_rep, "c": _verified(mlp_q, 0.05)},
        "vibration_detector": {**gmm_rep, "c": _verified(gmm, 0.05)},
        "pump": pump,
        "runtime": runtime,
        "targets": targets,
        "all_targets_met": all(targets.values()),
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
