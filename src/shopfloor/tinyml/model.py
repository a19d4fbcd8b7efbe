"""The portable model file: one ``.npz`` of plain arrays plus a JSON ``meta`` string, no pickles.

A :class:`TinyModel` is what :mod:`shopfloor.tinyml.convert` makes from a trained scikit-learn
estimator, what :mod:`shopfloor.tinyml.runtime` evaluates with NumPy alone and what
:mod:`shopfloor.tinyml.codegen` turns into C99. Kinds:

``forest``    tree ensemble (RandomForest / ExtraTrees classifier): internal nodes only, children
              ``>= 0`` are nodes and ``< 0`` are leaves ``~child``; leaf class distributions,
              optionally quantized to ``uint8`` (``leaf_q``).
``mlp``       multi-layer perceptron classifier: ``W{i}`` (out x in), ``b{i}``; optionally int8
              weights with one scale per output row.
``gmm``       Gaussian mixture log-likelihood (full or diagonal precision Cholesky factors);
              anomaly when the score falls below ``meta["threshold"]``.
``envelope``  robust covariance (EllipticEnvelope): ``-mahalanobis - offset``; anomaly below 0.

Optional steps before the model: ``features`` (edge vibration features of a raw segment, see
:mod:`shopfloor.tinyml.features`) and a standard scaler (``scale_mean``, ``scale_std``).
A model may carry a *verify set*: inputs and the reference model's classes and scores
(``verify_x``, ``verify_class``, ``verify_score``), recorded at export.

>>> m = TinyModel("envelope", "demo", "1.0.0", {"n_inputs": 2, "classes": ["normal", "anomaly"],
...     "offset": 1.0}, {"location": np.zeros(2), "precision": np.eye(2)})
>>> m.n_inputs, m.classes
(2, ['normal', 'anomaly'])
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shopfloor.core.errors import ConfigError

log = logging.getLogger(__name__)

KINDS = ("forest", "mlp", "gmm", "envelope")
MODEL_FILE = "model.npz"
FORMAT = 1


class ModelFormatError(ConfigError):
    """A model file is missing, malformed or of an unknown kind; the message names what."""


@dataclass
class TinyModel:
    """A trained model as plain arrays; see the module docstring for the layout of each kind."""

    kind: str
    name: str
    version: str
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ModelFormatError(f"model {self.name!r}: unknown kind {self.kind!r}; choose one of {KINDS}")
        for key in ("n_inputs", "classes"):
            if key not in self.meta:
                raise ModelFormatError(f"model {self.name!r}: meta lacks {key!r}")

    @property
    def n_inputs(self) -> int:
        """Length of one input row: raw segment length with features, else the feature count."""
        return int(self.meta["n_inputs"])

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def features(self) -> dict[str, Any] | None:
        """Feature-extraction settings (``{"kind": "vibration", "length": .., "bands": ..}``) or None."""
        return self.meta.get("features")

    @property
    def scaled(self) -> bool:
        return "scale_mean" in self.arrays

    def verify_set(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """``(inputs, reference classes, reference scores)`` recorded at export, if any."""
        if "verify_x" not in self.arrays:
            return None
        return self.arrays["verify_x"], self.arrays["verify_class"], self.arrays["verify_score"]

    def to_bytes(self) -> bytes:
        """The ``.npz`` file content (deterministic for the same model)."""
        head = {"format": FORMAT, "kind": self.kind, "name": self.name, "version": self.version}
        buf = io.BytesIO()
        np.savez_compressed(
            buf, __meta__=np.array(json.dumps({**head, "meta": self.meta}, sort_keys=True)), **self.arrays
        )
        return buf.getvalue()

    def save(self, path: Path) -> Path:
        """Write the model to ``path`` (``.npz``)."""
        path = Path(path)
        path.write_bytes(self.to_bytes())
        log.info("wrote %s model %s %s to %s", self.kind, self.name, self.version, path)
        return path

    @classmethod
    def from_bytes(cls, data: bytes, origin: str = "<bytes>") -> TinyModel:
        """Read a model from ``.npz`` content; never unpickles anything."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (ValueError, OSError, EOFError) as err:
            raise ModelFormatError(f"{origin}: not a tinyml model file ({err})") from err
        if "__meta__" not in arrays:
            raise ModelFormatError(f"{origin}: not a tinyml model file (no __meta__ entry)")
        try:
            head = json.loads(str(arrays.pop("__meta__")))
        except json.JSONDecodeError as err:
            raise ModelFormatError(f"{origin}: model meta is not JSON ({err})") from err
        if head.get("format") != FORMAT:
            raise ModelFormatError(
                f"{origin}: model format {head.get('format')!r}, this reader knows {FORMAT}"
            )
        return cls(head["kind"], head["name"], head["version"], head["meta"], arrays)

    @classmethod
    def load(cls, path: Path) -> TinyModel:
        """Read a model file."""
        path = Path(path)
        if not path.is_file():
            raise ModelFormatError(f"model file {path} does not exist")
        return cls.from_bytes(path.read_bytes(), str(path))
