"""The edge runtime: evaluate a :class:`~shopfloor.tinyml.model.TinyModel` with NumPy alone.

No scikit-learn, no pickles: a gateway needs ``numpy`` and the model file. Batches are evaluated
vectorised (all trees of a forest step together, one level per iteration), which is what gives the
edge agent tens of thousands of samples per second on one core; ``predict_one`` is there for the
per-sample path. Arithmetic follows the generated C (float32 thresholds, the same quantized
constants), so runtime, C and the original estimator agree.

>>> import numpy as np
>>> from shopfloor.tinyml.model import TinyModel
>>> m = TinyModel("envelope", "demo", "1.0.0", {"n_inputs": 2, "classes": ["normal", "anomaly"],
...     "offset": -4.0}, {"location": np.zeros(2, np.float32), "precision": np.eye(2, dtype=np.float32)})
>>> rt = Runtime(m)
>>> rt.predict_labels(np.array([[0.0, 1.0], [3.0, 0.0]]))
['normal', 'anomaly']
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from shopfloor.core.errors import ConfigError

from .features import VibrationFeatures
from .model import TinyModel

log = logging.getLogger(__name__)


def _act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    if name == "logistic":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "identity":
        return z
    raise ConfigError(f"unknown MLP activation {name!r}")


class Runtime:
    """Scores and classes of one model; ``scores`` columns are class probabilities (forest, mlp)
    or the single anomaly score (gmm: log-likelihood, envelope: decision value)."""

    def __init__(self, model: TinyModel) -> None:
        self.model = model
        self.kind = model.kind
        a = model.arrays
        self._features = VibrationFeatures.from_settings(model.features) if model.features else None
        self._mean = a["scale_mean"].astype(float) if model.scaled else None
        self._std = a["scale_std"].astype(float) if model.scaled else None
        if self.kind == "forest":
            self._leaf = a["leaf_q"].astype(float) / 255.0 if "leaf_q" in a else a["leaf"].astype(float)
            self._feat, self._thr = a["feature"], a["threshold"].astype(np.float32)
            self._left, self._right, self._roots = a["left"], a["right"], a["roots"]
        elif self.kind == "mlp":
            self._layers: list[tuple[np.ndarray, np.ndarray]] = []
            for i in range(int(model.meta["layers"])):
                w = (
                    a[f"Wq{i}"].astype(float) * a[f"s{i}"].astype(float)[:, None]
                    if f"Wq{i}" in a
                    else a[f"W{i}"]
                )
                self._layers.append((np.asarray(w, dtype=float).T, a[f"b{i}"].astype(float)))

    @property
    def classes(self) -> list[str]:
        return self.model.classes

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """Raw rows -> model inputs: feature extraction and scaling as exported."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.model.n_inputs:
            raise ConfigError(
                f"model {self.model.name!r} expects rows of {self.model.n_inputs} values, got {X.shape[1]}"
            )
        bad = ~np.isfinite(X).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            raise ConfigError(f"model {self.model.name!r}: rows {rows} contain NaN or infinity")
        if self._features is not None:
            X = self._features.transform(X)
        return self._scale(X)

    def _scale(self, F: np.ndarray) -> np.ndarray:
        if self._mean is not None and self._std is not None:
            return (F - self._mean) / self._std
        return F

    def scores_features(self, F: np.ndarray) -> np.ndarray:
        """Score rows for feature rows ``F`` (features already extracted, e.g. by the device)."""
        F = np.atleast_2d(np.asarray(F, dtype=float))
        nf = int(self.model.meta["n_features"])
        if F.shape[1] != nf:
            raise ConfigError(f"model {self.model.name!r} expects {nf} features, got {F.shape[1]}")
        return getattr(self, f"_{self.kind}")(self._scale(F))

    def features(self, X: np.ndarray) -> np.ndarray:
        """Feature rows of raw segments (models with feature extraction only)."""
        if self._features is None:
            raise ConfigError(f"model {self.model.name!r} has no feature extraction")
        return self._features.transform(np.atleast_2d(np.asarray(X, dtype=float)))

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Score rows for raw input rows ``X`` (n x n_inputs)."""
        Z = self.prepare(X)
        return getattr(self, f"_{self.kind}")(Z)

    def classify(self, scores: np.ndarray) -> np.ndarray:
        """Class indices from score rows."""
        if self.kind in ("forest", "mlp"):
            return scores.argmax(axis=1).astype(np.int32)
        cut = float(self.model.meta["threshold"]) if self.kind == "gmm" else 0.0
        return (scores[:, 0] < cut).astype(np.int32)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class index per row."""
        return self.classify(self.scores(X))

    def predict_labels(self, X: np.ndarray) -> list[str]:
        return [self.classes[i] for i in self.predict(X)]

    def predict_one(self, x: Any) -> str:
        """Class label of one raw input row."""
        return self.classes[int(self.predict(np.asarray(x, dtype=float)[None, :])[0])]

    def score_one(self, x: Any) -> float:
        """Anomaly score of one row (gmm/envelope: lower is more anomalous), else top probability."""
        s = self.scores(np.asarray(x, dtype=float)[None, :])[0]
        return float(s[0]) if self.kind in ("gmm", "envelope") else float(s.max())

    def _forest(self, Z: np.ndarray) -> np.ndarray:
        x = Z.astype(np.float32)
        n, trees = len(x), len(self._roots)
        node = np.broadcast_to(self._roots, (n, trees)).copy()
        rows = np.broadcast_to(np.arange(n)[:, None], (n, trees))
        active = node >= 0
        while active.any():
            r, i = rows[active], node[active]
            go_left = x[r, self._feat[i]] <= self._thr[i]
            node[active] = np.where(go_left, self._left[i], self._right[i])
            active = node >= 0
        return self._leaf[~node].sum(axis=1) / trees

    def _mlp(self, Z: np.ndarray) -> np.ndarray:
        h = Z
        last = len(self._layers) - 1
        for i, (w, b) in enumerate(self._layers):
            h = h @ w + b
            if i < last:
                h = _act(self.model.meta["activation"], h)
        if self.model.meta["out_activation"] == "softmax":
            e = np.exp(h - h.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        p = 1.0 / (1.0 + np.exp(-h[:, :1]))
        return np.hstack([1.0 - p, p])

    def _gmm(self, Z: np.ndarray) -> np.ndarray:
        a = self.model.arrays
        mu, pc, const = a["means"].astype(float), a["prec_chol"].astype(float), a["const"].astype(float)
        if self.model.meta["diag"]:
            y = (Z[:, None, :] - mu[None]) * pc[None]
        else:
            y = np.einsum("nkd,kde->nke", Z[:, None, :] - mu[None], pc)
        lp = const[None] - 0.5 * np.sum(y * y, axis=2)
        top = lp.max(axis=1, keepdims=True)
        return top + np.log(np.exp(lp - top).sum(axis=1, keepdims=True))

    def _envelope(self, Z: np.ndarray) -> np.ndarray:
        a = self.model.arrays
        d = Z - a["location"].astype(float)
        m = np.einsum("nd,de,ne->n", d, a["precision"].astype(float), d)
        return (-m - float(self.model.meta["offset"]))[:, None]


def load(path: Path) -> Runtime:
    """Runtime for a plain model file (unsigned: for development; edge agents use :func:`load_bundle`)."""
    return Runtime(TinyModel.load(Path(path)))


def load_bundle(path: Path, public_key: Any, installed_version: str | None = None) -> Runtime:
    """Runtime for a signed model bundle; refuses unsigned, tampered and downgraded bundles.

    ``public_key`` is the Ed25519 public key of the model publisher; ``installed_version`` the
    version now running (a bundle with an older version is refused).
    """
    from .bundle import open_bundle

    model = open_bundle(Path(path), public_key, installed_version=installed_version)
    return Runtime(model)
