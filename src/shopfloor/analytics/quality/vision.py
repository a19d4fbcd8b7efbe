"""Surface-defect classification for line-camera images (CPU inference).

:class:`DefectClassifier` learns defect classes from grey-scale images (2-D ``uint8`` or float
arrays) and classifies one image at a time with ``predict_one``. Backends:

* ``"cnn"`` (needs the ``vision`` extra, torch): a small convolutional network (5 conv blocks,
  ~0.4 M parameters at width 16) trained from scratch on the images, input scaled to
  ``size`` x ``size``, with flips and brightness/contrast jitter as augmentation;
* ``"texture"`` (scikit-image + scikit-learn, the ``quality`` extra): multi-scale local binary
  pattern histograms, grey-level co-occurrence statistics and intensity statistics, classified by
  an RBF support vector machine.

* ``"ensemble"``: both, averaging the CNN's softmax and the SVM's (Platt-scaled) probabilities;
  their errors differ, so together they are right more often than either.

``"auto"`` picks ``ensemble`` when torch is importable, else ``texture``. A fitted model
round-trips through :meth:`DefectClassifier.to_bytes` / :meth:`DefectClassifier.from_bytes`
(pickle: load only models you made). :func:`decode` turns encoded image bytes (JPEG, PNG, BMP)
into the grey-scale array the classifier takes.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import pickle
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from shopfloor.core.errors import ConfigError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "ensemble", "cnn", "texture")


def has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def decode(data: bytes) -> np.ndarray:
    """Encoded image bytes -> 2-D ``uint8`` grey-scale array (needs pillow)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise ConfigError(f"image: cannot decode {len(data)} bytes ({err})") from err


def _gray(img: np.ndarray) -> np.ndarray:
    arr = np.asarray(img)
    if arr.ndim == 3:
        arr = arr.mean(axis=2)
    if arr.ndim != 2 or min(arr.shape) < 16:
        raise ConfigError(f"image: need a 2-D grey-scale array of at least 16x16, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        a = arr.astype(np.float64)
        if a.max() <= 1.0:
            a = a * 255.0
        arr = np.clip(np.round(a), 0, 255).astype(np.uint8)
    return arr


def _halve(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    return x[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def _hist(codes: np.ndarray, bins: int) -> np.ndarray:
    h = np.bincount(codes.ravel().astype(np.int64), minlength=bins).astype(np.float64)
    return h / h.sum()


def texture_features(img: np.ndarray) -> np.ndarray:
    """Multi-scale texture descriptor of one grey-scale image (297 values)."""
    from skimage.feature import graycomatrix, graycoprops, local_binary_pattern

    g = _gray(img)
    x = g.astype(np.float64)
    half = _halve(x)
    levels = [g, np.round(half).astype(np.uint8), np.round(_halve(half)).astype(np.uint8)]
    parts = [_hist(local_binary_pattern(lev, 8, 1, "nri_uniform"), 59) for lev in levels]
    parts.append(_hist(local_binary_pattern(levels[1], 16, 2, "uniform"), 18))
    parts.append(_hist(local_binary_pattern(levels[2], 16, 2, "uniform"), 18))
    glcm = graycomatrix(
        g // 8, [1, 2, 4, 8], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], levels=32, symmetric=True, normed=True
    )
    parts += [graycoprops(glcm, p).ravel() for p in ("contrast", "homogeneity", "energy", "correlation")]
    dy, dx = np.abs(np.diff(x, axis=0)).mean(), np.abs(np.diff(x, axis=1)).mean()
    parts.append(np.array([x.mean(), x.std(), dy, dx]) / 255.0)
    parts.append(_hist(g // 16, 16))
    f = np.concatenate(parts)
    return np.sign(f) * np.sqrt(np.abs(f))


class DefectClassifier:
    """Defect class of one image; ``fit(images, labels)``, ``predict_one(image)``."""

    def __init__(
        self,
        backend: str = "auto",
        size: int = 100,
        epochs: int = 30,
        width: int = 16,
        C: float = 10.0,
        seed: int = 0,
        threads: int | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ConfigError(f"vision backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        if backend == "auto":
            backend = "ensemble" if has_torch() else "texture"
        if backend in ("cnn", "ensemble") and not has_torch():
            raise ConfigError(f"vision backend {backend!r} needs torch: pip install 'shopfloor[vision]'")
        self.backend, self.size, self.epochs, self.width = backend, size, epochs, width
        self.C, self.seed, self.threads = C, seed, threads
        self.classes_: list[str] = []
        self._cnn: Any = None
        self._svm: Any = None
        self.fit_seconds_ = 0.0

    @property
    def _parts(self) -> tuple[bool, bool]:
        return self.backend in ("cnn", "ensemble"), self.backend in ("texture", "ensemble")

    def fit(self, images: Sequence[np.ndarray], labels: Sequence[str]) -> DefectClassifier:
        if len(images) != len(labels) or len(images) < 2:
            raise ConfigError(
                f"fit: need as many labels as images, at least 2 (got {len(images)}/{len(labels)})"
            )
        self.classes_ = sorted(set(labels))
        if len(self.classes_) < 2:
            raise ConfigError("fit: need at least two classes")
        y = np.array([self.classes_.index(label) for label in labels])
        grays = [_gray(i) for i in images]
        use_cnn, use_svm = self._parts
        t = time.perf_counter()
        if use_svm:
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler
            from sklearn.svm import SVC

            X = np.array([texture_features(g) for g in grays])
            # ensemble: libsvm's probabilities (Platt scaling by internal 5-fold cross-validation,
            # pairwise coupling); scikit-learn deprecates the flag in 1.9 (removal in 1.11, hence the
            # <1.11 bound of the quality extra) for CalibratedClassifierCV, whose one-vs-rest
            # calibration did worse here (98.0 % vs 99.3 % on the 51-150/1-50 split)
            svc = SVC(C=self.C, gamma="scale", probability=self.backend == "ensemble", random_state=self.seed)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "The `probability` parameter", FutureWarning)
                self._svm = make_pipeline(StandardScaler(), svc).fit(X, y)
        if use_cnn:
            from .cnn import train

            self._cnn = train(
                grays,
                y,
                len(self.classes_),
                size=self.size,
                epochs=self.epochs,
                width=self.width,
                seed=self.seed,
                threads=self.threads,
            )
        self.fit_seconds_ = time.perf_counter() - t
        log.info(
            "defect classifier (%s) fitted on %d images in %.1f s", self.backend, len(y), self.fit_seconds_
        )
        return self

    def predict_one(self, image: np.ndarray) -> str:
        return self.predict([image])[0]

    def predict(self, images: Sequence[np.ndarray]) -> list[str]:
        use_cnn, use_svm = self._parts
        if (use_cnn and self._cnn is None) or (use_svm and self._svm is None):
            raise ConfigError("defect classifier: fit it first")
        grays = [_gray(i) for i in images]
        if self.backend == "texture":
            idx = self._svm.predict(np.array([texture_features(g) for g in grays]))
        else:
            from .cnn import predict_proba

            proba = predict_proba(self._cnn, grays, self.size)
            if use_svm:
                proba = proba + self._svm.predict_proba(np.array([texture_features(g) for g in grays]))
            idx = proba.argmax(axis=1)
        return [self.classes_[int(i)] for i in idx]

    def to_bytes(self) -> bytes:
        if self._cnn is None and self._svm is None:
            raise ConfigError("defect classifier: fit it first")
        return pickle.dumps(self.__dict__)

    @classmethod
    def from_bytes(cls, data: bytes) -> DefectClassifier:
        """Load a model written by :meth:`to_bytes` (pickle: only load models you made)."""
        obj = cls.__new__(cls)
        obj.__dict__.update(pickle.loads(data))
        return obj
