"""Edge use cases, trained and exported from arrays (no I/O; the bench and CLI load the data).

* :func:`vibration_classifier`: bearing fault class from a raw vibration segment (CWRU): a small
  random forest with uint8 leaves on the edge vibration features, next to the full analytics
  model (:class:`~shopfloor.analytics.maintenance.classify.FaultClassifier`, 300 extra trees) on
  the same features for the accuracy comparison; optionally an MLP on the scaled features.
* :func:`vibration_detector`: Gaussian mixture (diagonal) on scaled edge vibration features of normal
  segments; a segment is anomalous below the 1st percentile of the training log-likelihood.
* :func:`pump_detector`: the SKAB pump: Gaussian mixture (or elliptic envelope) on the 8 scaled
  sensors of a file's training part.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from shopfloor.analytics.maintenance.classify import FaultClassifier
from shopfloor.core.errors import ConfigError

from .convert import export
from .features import VibrationFeatures
from .model import TinyModel

log = logging.getLogger(__name__)

#: Compact forest sizes tried in order (trees, max leaves per tree) and the flash budget: a whole
#: Cortex-M4 program where arm-none-eabi-gcc and newlib are installed, else the model's object file
#: plus ``LIBM_RESERVE`` for start-up code and libm (measured: 1.9 KB with newlib-nano).
SIZES = ((10, 32), (16, 48), (24, 64), (32, 96), (48, 128), (64, 160))
FLASH_BUDGET = 16 * 1024
LIBM_RESERVE = 2 * 1024


def _flash(model: TinyModel) -> int | None:
    """Flash of the model's C: a linked Cortex-M4 program where the ARM toolchain is installed, else
    the host object (x86-64 code is larger than Thumb-2: conservative) plus ``LIBM_RESERVE``.
    None without a C compiler."""
    import tempfile
    from pathlib import Path

    from .verify import build

    try:
        with tempfile.TemporaryDirectory(prefix="shopfloor-tinyml-") as tmp:
            sizes = build(model, Path(tmp))
            if sizes.get("cortex_m4_linked_flash_bytes"):  # whole M4 program, libm included
                return int(sizes["cortex_m4_linked_flash_bytes"])
            return int(sizes["cortex_m4_flash_bytes"] or sizes["flash_bytes"]) + LIBM_RESERVE
    except ConfigError as err:
        log.warning("cannot size the C of %s (%s): keeping the smallest forest", model.name, err)
        return None


def _acc(pred: np.ndarray, y: np.ndarray) -> float:
    return round(float(np.mean(np.asarray(pred) == np.asarray(y))), 4)


def vibration_classifier(
    train_segs: np.ndarray,
    y_train: np.ndarray,
    test_segs: np.ndarray,
    y_test: np.ndarray,
    *,
    name: str = "vibration-classifier",
    version: str = "1.0.0",
    sizes: tuple[tuple[int, int], ...] = SIZES,
    flash_budget: int = FLASH_BUDGET,
    bands: int = 16,
    full_trees: int = 300,
    seed: int = 0,
) -> tuple[TinyModel, dict[str, Any]]:
    """Compact forest on edge features; report accuracy of it and of the full model.

    The forest is the largest of ``sizes`` (trees, leaves per tree) whose compiled C, features
    included, fits ``flash_budget`` bytes (see :func:`_flash`) (chosen by size alone, never by test accuracy).
    """
    from sklearn.ensemble import RandomForestClassifier

    vf = VibrationFeatures(train_segs.shape[1], bands)
    Ftr, Fte = vf.transform(train_segs), vf.transform(test_segs)
    full = FaultClassifier(trees=full_trees, seed=seed).fit(Ftr, y_train)
    chosen: tuple[Any, TinyModel, int | None] | None = None
    for trees, leaves in sizes:
        est = RandomForestClassifier(n_estimators=trees, max_leaf_nodes=leaves, random_state=seed, n_jobs=1)
        est.fit(Ftr, y_train)
        m = export(est, name, version, features=vf, quantize="int8", verify_inputs=test_segs)
        flash = _flash(m)
        if chosen is not None and (flash is None or flash > flash_budget):
            break
        chosen = (est, m, flash)
        if flash is None:
            break
    assert chosen is not None
    small, model, flash = chosen
    trees, max_leaf_nodes = small.n_estimators, small.max_leaf_nodes
    report = {
        "train_segments": len(y_train),
        "test_segments": len(y_test),
        "classes": len(set(np.asarray(y_train).tolist())),
        "features": vf.n_features,
        "accuracy_full": _acc(full.predict(Fte), y_test),
        "full_model": f"FaultClassifier (ExtraTrees x{full_trees}) on the same features",
        "accuracy_compact": _acc(small.predict(Fte), y_test),
        "compact_model": f"RandomForest x{trees}, <= {max_leaf_nodes} leaves, uint8 leaves",
        "compact_trees": int(trees),
        "compact_max_leaves": int(max_leaf_nodes),
        "compact_flash_bytes": flash,
        "flash_budget_bytes": flash_budget,
    }
    report["accuracy_gap_points"] = round(100 * (report["accuracy_full"] - report["accuracy_compact"]), 2)
    return model, report


def vibration_mlp(
    train_segs: np.ndarray,
    y_train: np.ndarray,
    test_segs: np.ndarray,
    y_test: np.ndarray,
    *,
    name: str = "vibration-mlp",
    hidden: tuple[int, ...] = (24,),
    bands: int = 16,
    quantize: str | None = None,
    seed: int = 0,
) -> tuple[TinyModel, dict[str, Any]]:
    """A small MLP on the scaled edge vibration features."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    vf = VibrationFeatures(train_segs.shape[1], bands)
    Ftr, Fte = vf.transform(train_segs), vf.transform(test_segs)
    sc = StandardScaler().fit(Ftr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on small data is expected
        mlp = MLPClassifier(hidden, max_iter=500, random_state=seed).fit(sc.transform(Ftr), y_train)
    model = export(mlp, name, scaler=sc, features=vf, quantize=quantize, verify_inputs=test_segs)
    return model, {"accuracy": _acc(mlp.predict(sc.transform(Fte)), y_test), "hidden": list(hidden)}


def vibration_detector(
    normal_segs: np.ndarray,
    test_segs: np.ndarray,
    test_anomalous: np.ndarray,
    *,
    name: str = "vibration-detector",
    components: int = 2,
    bands: int = 16,
    seed: int = 0,
) -> tuple[TinyModel, dict[str, Any]]:
    """Gaussian mixture on scaled edge vibration features of normal segments."""
    from sklearn.mixture import GaussianMixture
    from sklearn.preprocessing import StandardScaler

    vf = VibrationFeatures(normal_segs.shape[1], bands)
    F = vf.transform(normal_segs)
    sc = StandardScaler().fit(F)
    # diagonal: speed-perturbed copies of the same segments make full covariances degenerate
    gmm = GaussianMixture(components, covariance_type="diag", reg_covar=0.1, random_state=seed)
    gmm.fit(sc.transform(F))
    cut = float(np.percentile(gmm.score_samples(sc.transform(F)), 1.0))
    model = export(gmm, name, scaler=sc, features=vf, threshold=cut, verify_inputs=test_segs)
    flag = gmm.score_samples(sc.transform(vf.transform(test_segs))) < cut
    y = np.asarray(test_anomalous, dtype=bool)
    return model, {
        "detection_rate": round(float(flag[y].mean()), 4) if y.any() else None,
        "false_alarm_rate": round(float(flag[~y].mean()), 4) if (~y).any() else None,
        "test_segments": len(y),
    }


def pump_detector(
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    *,
    name: str = "pump-detector",
    kind: str = "gmm",
    components: int = 2,
    quantile: float = 1.0,
    seed: int = 0,
) -> TinyModel:
    """Anomaly model of a pump's sensor rows (SKAB: the 8 sensors), trained on normal rows."""
    from sklearn.covariance import EllipticEnvelope
    from sklearn.mixture import GaussianMixture
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(train_rows)
    Z = sc.transform(train_rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # robust covariance warns on near-singular sensor sets
        if kind == "envelope":
            est = EllipticEnvelope(contamination=quantile / 100.0, random_state=seed).fit(Z)
            return export(est, name, scaler=sc, verify_inputs=test_rows)
        est = GaussianMixture(components, covariance_type="full", reg_covar=1e-3, random_state=seed).fit(Z)
    cut = float(np.percentile(est.score_samples(Z), quantile))
    return export(est, name, scaler=sc, threshold=cut, verify_inputs=test_rows)
