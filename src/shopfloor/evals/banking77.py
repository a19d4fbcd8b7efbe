"""BANKING77 suite: 77-intent classification of online-banking customer messages.

Layout (``SOURCE.md``): ``train.csv`` (``text,category``) in ``--data``, ``test.csv`` (same
columns) in ``--test-data``. Protocol: train on all of train.csv, report accuracy and macro-F1
on test.csv. When the test directory has no test.csv (the development copy ships only the
training split), a stratified 20 % of train.csv is held out instead and the result says
``"protocol": "holdout"``.

The classifier is :class:`shopfloor.analytics.feedback.intent.IntentClassifier` with the
strongest installed backend (``minilm`` with the extra ``nlp``, else ``tfidf``); set
``SHOPFLOOR_BANKING77_BACKEND`` to force one. ``ms_per_text`` is the wall time of predicting
the whole test set (features included) divided by its size, on this machine's CPU;
``ms_single_p50`` is the median latency of one text predicted alone.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shopfloor.analytics.feedback.intent import IntentClassifier
from shopfloor.core.errors import ConfigError

log = logging.getLogger(__name__)

SEED = 0
HOLDOUT = 0.2


def read(path: Path) -> tuple[list[str], list[str]]:
    """Texts and categories of one BANKING77 CSV (clear error naming the file and row)."""
    if not path.is_file():
        raise ConfigError(f"{path}: not found (expected the BANKING77 layout: train.csv, test.csv)")
    texts: list[str] = []
    labels: list[str] = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"text", "category"} <= set(reader.fieldnames):
            raise ConfigError(f"{path}: header must have text,category; got {reader.fieldnames}")
        for i, row in enumerate(reader, start=2):
            text, cat = (row.get("text") or "").strip(), (row.get("category") or "").strip()
            if not text or not cat:
                raise ConfigError(f"{path}:{i}: empty text or category")
            texts.append(text)
            labels.append(cat)
    if not texts:
        raise ConfigError(f"{path}: no rows")
    return texts, labels


def _holdout(texts: list[str], labels: list[str]) -> tuple[list[int], list[int]]:
    rng = np.random.default_rng(SEED)
    train, test = [], []
    by: dict[str, list[int]] = {}
    for i, c in enumerate(labels):
        by.setdefault(c, []).append(i)
    for c in sorted(by):
        idx = rng.permutation(by[c])
        k = max(1, round(len(idx) * HOLDOUT))
        test.extend(idx[:k].tolist())
        train.extend(idx[k:].tolist())
    return train, test


def run(
    data: Path,
    test_data: Path | None = None,
    progress: Callable[[str, float], None] | None = None,
    backend: str | None = None,
    shots: int | None = None,
) -> dict:
    """Train on ``data/train.csv``, score on ``test_data/test.csv`` (or a holdout).

    ``shots`` keeps only the first that many training texts per intent (the few-shot variant).
    """
    from sklearn.metrics import accuracy_score, f1_score

    texts, labels = read(Path(data) / "train.csv")
    test_file = Path(test_data) / "test.csv" if test_data is not None else None
    if test_file is not None and test_file.is_file():
        te_x, te_y = read(test_file)
        protocol = "official"
    else:
        if test_data is not None and not Path(test_data).is_dir():
            raise ConfigError(f"--test-data {test_data}: not a directory")
        tr, te = _holdout(texts, labels)
        te_x, te_y = [texts[i] for i in te], [labels[i] for i in te]
        texts, labels = [texts[i] for i in tr], [labels[i] for i in tr]
        protocol = "holdout"
    if shots:
        seen: dict[str, int] = {}
        sel = []
        for i, c in enumerate(labels):
            seen[c] = seen.get(c, 0) + 1
            if seen[c] <= shots:
                sel.append(i)
        texts, labels = [texts[i] for i in sel], [labels[i] for i in sel]
    backend = backend or os.environ.get("SHOPFLOOR_BANKING77_BACKEND") or "best"
    clf = IntentClassifier(backend)
    if progress:
        progress(f"training ({clf.backend})", 0.1)
    t0 = time.perf_counter()
    clf.fit(texts, labels)
    train_s = time.perf_counter() - t0
    if progress:
        progress("predicting", 0.7)
    clf.predict(te_x[:8])  # warm-up (lazy model loads are not per-text cost)
    t0 = time.perf_counter()
    pred = clf.predict(te_x)
    ms = (time.perf_counter() - t0) * 1000 / len(te_x)
    single = []
    for t in te_x[:200]:
        t1 = time.perf_counter()
        clf.predict_one(t)
        single.append((time.perf_counter() - t1) * 1000)
    if progress:
        progress("done", 1.0)
    return {
        "suite": "banking77",
        "protocol": protocol,
        "backend": clf.backend,
        "train_texts": len(texts),
        "test_texts": len(te_x),
        "classes": len(set(labels)),
        "accuracy": float(accuracy_score(te_y, pred)),
        "macro_f1": float(f1_score(te_y, pred, average="macro")),
        "ms_per_text": ms,
        "ms_single_p50": float(np.median(single)),
        "train_s": train_s,
        "cpu_threads": os.cpu_count(),
    }
