"""Trained scikit-learn estimators -> :class:`~shopfloor.tinyml.model.TinyModel` (the export step).

Supported: ``RandomForestClassifier`` / ``ExtraTreesClassifier`` (and the analytics
``FaultClassifier`` wrapping one), ``MLPClassifier``, ``GaussianMixture`` and ``EllipticEnvelope``;
an optional ``StandardScaler`` in front, and optional edge vibration features before that.

Quantization (``quantize="int8"``): forest leaf distributions become ``uint8`` (1/255 steps; it
pays: leaves are most of a forest's flash), MLP weights become int8 with one scale per neuron
(4x smaller). Mixture and envelope models stay float: they are a few hundred constants.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .features import VibrationFeatures
from .model import ModelFormatError, TinyModel

log = logging.getLogger(__name__)

VERIFY_ROWS = 2000


def _f32_down(t: np.ndarray) -> np.ndarray:
    """Largest float32 <= each double: ``x32 <= t`` then holds exactly when ``float(x32) <= t``."""
    t32 = t.astype(np.float32)
    over = t32.astype(float) > t
    t32[over] = np.nextafter(t32[over], np.float32(-np.inf))
    return t32


def _forest(est: Any, quantize: str | None) -> tuple[dict, dict]:
    feats, thrs, lefts, rights, roots, leaves = [], [], [], [], [], []
    n_int = n_leaf = 0
    for tree in est.estimators_:
        t = tree.tree_
        internal = np.flatnonzero(t.children_left >= 0)
        leaf_nodes = np.flatnonzero(t.children_left < 0)
        node_id = {int(n): n_int + i for i, n in enumerate(internal)}
        leaf_id = {int(n): n_leaf + i for i, n in enumerate(leaf_nodes)}

        def ref(n: int, node_id: dict = node_id, leaf_id: dict = leaf_id) -> int:
            return node_id[n] if n in node_id else ~leaf_id[n]

        roots.append(ref(0))
        feats.append(t.feature[internal])
        thrs.append(t.threshold[internal])
        lefts.append([ref(int(c)) for c in t.children_left[internal]])
        rights.append([ref(int(c)) for c in t.children_right[internal]])
        v = t.value[leaf_nodes, 0, :].astype(float)
        leaves.append(v / np.maximum(v.sum(axis=1, keepdims=True), 1e-300))
        n_int += len(internal)
        n_leaf += len(leaf_nodes)
    leaf = np.vstack(leaves)
    arrays: dict[str, np.ndarray] = {
        "feature": np.concatenate(feats).astype(np.int32),
        "threshold": _f32_down(np.concatenate(thrs).astype(float)),
        "left": np.concatenate(lefts).astype(np.int32),
        "right": np.concatenate(rights).astype(np.int32),
        "roots": np.asarray(roots, dtype=np.int32),
    }
    if quantize == "int8":
        arrays["leaf_q"] = np.clip(np.rint(leaf * 255), 0, 255).astype(np.uint8)
    else:
        arrays["leaf"] = leaf.astype(np.float32)
    return {"trees": len(roots), "quantize": quantize}, arrays


def _mlp(est: Any, quantize: str | None) -> tuple[dict, dict]:
    arrays: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(zip(est.coefs_, est.intercepts_, strict=True)):
        wt = np.asarray(w, dtype=float).T  # out x in
        if quantize == "int8":
            scale = np.abs(wt).max(axis=1) / 127.0
            scale[scale == 0] = 1.0
            arrays[f"Wq{i}"] = np.clip(np.rint(wt / scale[:, None]), -127, 127).astype(np.int8)
            arrays[f"s{i}"] = scale.astype(np.float32)
        else:
            arrays[f"W{i}"] = wt.astype(np.float32)
        arrays[f"b{i}"] = np.asarray(b, dtype=np.float32)
    meta = {
        "layers": len(est.coefs_),
        "activation": est.activation,
        "out_activation": est.out_activation_,
        "quantize": quantize,
    }
    return meta, arrays


def _gmm(est: Any) -> tuple[dict, dict]:
    k, d = est.means_.shape
    ct = est.covariance_type
    pc = np.asarray(est.precisions_cholesky_, dtype=float)
    if ct == "tied":
        pc = np.repeat(pc[None], k, axis=0)
    elif ct == "spherical":
        pc = np.repeat(pc[:, None], d, axis=1)
    diag = ct in ("diag", "spherical")
    logdet = np.log(pc).sum(axis=1) if diag else np.log(np.diagonal(pc, axis1=1, axis2=2)).sum(axis=1)
    const = np.log(est.weights_) + logdet - 0.5 * d * np.log(2 * np.pi)
    arrays = {
        "means": est.means_.astype(np.float32),
        "prec_chol": pc.astype(np.float32),
        "const": const.astype(np.float32),
    }
    return {"components": k, "diag": diag}, arrays


def _envelope(est: Any) -> tuple[dict, dict]:
    arrays = {"location": est.location_.astype(np.float32), "precision": est.precision_.astype(np.float32)}
    return {"offset": float(est.offset_)}, arrays


def _reference(est: Any, kind: str, X: np.ndarray, threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Classes (indices) and scores of the original estimator on prepared rows ``X``."""
    if kind in ("forest", "mlp"):
        p = est.predict_proba(X)
        return p.argmax(axis=1).astype(np.int32), p.astype(np.float32)
    s = est.score_samples(X) if kind == "gmm" else est.decision_function(X)
    cut = threshold if kind == "gmm" else 0.0
    return (s < cut).astype(np.int32), s.astype(np.float32)[:, None]


def export(
    estimator: Any,
    name: str,
    version: str = "1.0.0",
    *,
    scaler: Any = None,
    features: VibrationFeatures | None = None,
    quantize: str | None = None,
    threshold: float | None = None,
    verify_inputs: np.ndarray | None = None,
    feature_names: list[str] | None = None,
) -> TinyModel:
    """Convert a fitted estimator (plus scaler and feature extraction) into a :class:`TinyModel`.

    ``threshold`` is the anomaly cut on the Gaussian mixture's log-likelihood (default: its 1st
    percentile on the verify inputs). ``verify_inputs`` (raw rows: segments when ``features`` is
    given) are stored with the original estimator's classes and scores for ``tinyml verify``.
    """
    est = getattr(estimator, "_model", None) or estimator  # analytics FaultClassifier wraps sklearn
    cls = type(est).__name__
    if quantize not in (None, "int8"):
        raise ModelFormatError(f"quantize must be None or 'int8', not {quantize!r}")
    if cls in ("RandomForestClassifier", "ExtraTreesClassifier"):
        kind, (meta, arrays) = "forest", _forest(est, quantize)
        classes = [str(c) for c in est.classes_]
    elif cls == "MLPClassifier":
        kind, (meta, arrays) = "mlp", _mlp(est, quantize)
        classes = [str(c) for c in est.classes_]
    elif cls == "GaussianMixture":
        kind, (meta, arrays) = "gmm", _gmm(est)
        classes = ["normal", "anomaly"]
    elif cls == "EllipticEnvelope":
        kind, (meta, arrays) = "envelope", _envelope(est)
        classes = ["normal", "anomaly"]
    else:
        raise ModelFormatError(
            f"cannot export {cls}: supported are RandomForestClassifier, ExtraTreesClassifier, "
            "MLPClassifier, GaussianMixture, EllipticEnvelope"
        )
    n_features = int(est.n_features_in_)
    meta.update(classes=classes, n_features=n_features, exported_from=cls)
    if feature_names:
        meta["feature_names"] = list(feature_names)
    if scaler is not None:
        arrays["scale_mean"] = np.asarray(scaler.mean_, dtype=np.float32)
        arrays["scale_std"] = np.asarray(scaler.scale_, dtype=np.float32)
    if features is not None:
        if features.n_features != n_features:
            raise ModelFormatError(
                f"features give {features.n_features} values, the model expects {n_features}"
            )
        meta["features"] = features.settings()
        meta.setdefault("feature_names", features.names)
    meta["n_inputs"] = features.length if features is not None else n_features
    if verify_inputs is not None:
        raw = np.asarray(verify_inputs, dtype=np.float32)[:VERIFY_ROWS].astype(float)  # what C sees
        X = features.transform(raw) if features is not None else raw
        X = scaler.transform(X) if scaler is not None else X
        if kind == "gmm" and threshold is None:
            threshold = float(np.percentile(est.score_samples(X), 1.0))
        ref_class, ref_score = _reference(est, kind, X, threshold)
        arrays.update(verify_x=raw.astype(np.float32), verify_class=ref_class, verify_score=ref_score)
    if kind == "gmm":
        if threshold is None:
            raise ModelFormatError("a Gaussian mixture export needs threshold= or verify_inputs=")
        meta["threshold"] = float(threshold)
    return TinyModel(kind, name, version, meta, arrays)
