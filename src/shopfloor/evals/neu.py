"""NEU suite: classify the six NEU hot-rolled steel surface defects (NEU-CLS / NEU-DET images).

Layout (``SOURCE.md``): images named ``<class>_<n>.jpg`` (NEU-DET: ``images/``, with Pascal-VOC
``annotations/<stem>.xml``) or NEU-CLS's ``<Cr|In|Pa|PS|RS|Sc>_<n>.bmp``, anywhere under the
directory. The class comes from the file name, or else from the annotation's first object name.

Protocol: with ``--test-data DIR`` train on every image of ``--data`` and test on every image
of ``DIR`` (the final evaluation: images 1-150 of each class train, 151-300 test). Without it, a
fixed-seed stratified hold-out of ``HOLDOUT`` of each class tests and the rest trains (papers
use random 80/20 splits; there is no official split).

Reported: accuracy, per-class recall, the confusion matrix, the time per image on one thread
(decode, scale, classify; median and p95), training time, and the model's size.
"""

from __future__ import annotations

import logging
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from shopfloor.core.errors import ConfigError

log = logging.getLogger(__name__)

CLASSES = ("crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches")
ALIASES = {
    "cr": "crazing",
    "in": "inclusion",
    "pa": "patches",
    "ps": "pitted_surface",
    "rs": "rolled-in_scale",
    "sc": "scratches",
    "pitted": "pitted_surface",
    "rolled-in": "rolled-in_scale",
    "rolled_in_scale": "rolled-in_scale",
}
SUFFIXES = {".jpg", ".jpeg", ".bmp", ".png"}
NAME = re.compile(r"^(?P<cls>.+?)[_-](?P<no>\d+)$")
HOLDOUT = 0.2
SEED = 0


def label_of(path: Path) -> str | None:
    """The defect class of one image file, from its name or its VOC annotation."""
    m = NAME.match(path.stem)
    if m:
        name = m["cls"].lower()
        name = ALIASES.get(name, name)
        if name in CLASSES:
            return name
    for xml in (path.with_suffix(".xml"), path.parent.parent / "annotations" / f"{path.stem}.xml"):
        if xml.is_file():
            try:
                node = ET.parse(xml).getroot().find("object/name")
            except ET.ParseError as err:
                raise ConfigError(f"{xml}: not a Pascal-VOC annotation ({err})") from err
            if node is not None and node.text:
                name = ALIASES.get(node.text.strip().lower(), node.text.strip().lower())
                if name in CLASSES:
                    return name
    return None


def scan(root: Path) -> tuple[list[Path], list[str]]:
    """Every labelled image under ``root`` (sorted); unlabelled images are logged and skipped."""
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory")
    paths, labels, skipped = [], [], 0
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in SUFFIXES and p.is_file():
            label = label_of(p)
            if label is None:
                skipped += 1
                continue
            paths.append(p)
            labels.append(label)
    if skipped:
        log.warning("%s: %d images without a NEU class in name or annotation were skipped", root, skipped)
    if len(set(labels)) < 2:
        raise ConfigError(
            f"{root}: need NEU images of at least two classes (<class>_<n>.jpg), found {len(paths)}"
        )
    return paths, labels


def holdout(labels: list[str], share: float = HOLDOUT, seed: int = SEED) -> np.ndarray:
    """Boolean test mask: a fixed-seed stratified ``share`` of each class."""
    rng = np.random.default_rng(seed)
    y = np.asarray(labels)
    test = np.zeros(len(y), bool)
    for c in sorted(set(labels)):
        idx = np.flatnonzero(y == c)
        k = max(1, round(share * len(idx)))
        test[rng.choice(idx, size=k, replace=False)] = True
    return test


def run(
    data: Path,
    test_data: Path | None = None,
    progress: Callable[[str, float], None] | None = None,
    backend: str = "auto",
) -> dict:
    from shopfloor.analytics.quality.vision import DefectClassifier, decode

    step = progress or (lambda what, frac: None)
    paths, labels = scan(Path(data))
    if test_data is not None:
        test_paths, test_labels = scan(Path(test_data))
        train_paths, train_labels, protocol = paths, labels, "train on --data, test on --test-data"
    else:
        mask = holdout(labels)
        train_paths = [p for p, m in zip(paths, mask, strict=True) if not m]
        train_labels = [lab for lab, m in zip(labels, mask, strict=True) if not m]
        test_paths = [p for p, m in zip(paths, mask, strict=True) if m]
        test_labels = [lab for lab, m in zip(labels, mask, strict=True) if m]
        protocol = f"stratified hold-out {HOLDOUT:.0%} per class, seed {SEED}"
    step("reading", 0.02)
    train_imgs = [decode(p.read_bytes()) for p in train_paths]
    step("training", 0.1)
    clf = DefectClassifier(backend=backend, threads=2).fit(train_imgs, train_labels)
    step("testing", 0.9)
    pred, times = _timed_predict(clf, test_paths, decode)
    y = np.asarray(test_labels)
    p = np.asarray(pred)
    classes = sorted(set(train_labels) | set(test_labels))
    confusion = {c: {d: int(np.sum((y == c) & (p == d))) for d in classes} for c in classes}
    recall = {c: round(float(np.mean(p[y == c] == c)), 4) for c in classes if np.any(y == c)}
    step("done", 1.0)
    return {
        "suite": "neu",
        "protocol": protocol,
        "backend": clf.backend,
        "train_images": len(train_paths),
        "test_images": len(test_paths),
        "accuracy": round(float(np.mean(p == y)), 4),
        "per_class_recall": recall,
        "confusion": confusion,
        "ms_per_image": round(float(np.median(times)), 3),
        "ms_per_image_p95": round(float(np.percentile(times, 95)), 3),
        "threads": 1,
        "train_seconds": round(clf.fit_seconds_, 1),
        "model_bytes": len(clf.to_bytes()),
    }


def _timed_predict(clf, paths: list[Path], decode) -> tuple[list[str], list[float]]:
    """Classify one image at a time on one thread: decode + scale + infer, in milliseconds."""
    from threadpoolctl import threadpool_limits

    torch: Any = None
    if clf.backend in ("cnn", "ensemble"):
        import torch
    before = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(1)
    pred, times = [], []
    try:
        with threadpool_limits(limits=1):
            for path in paths:
                raw = path.read_bytes()
                t = time.perf_counter()
                pred.append(clf.predict_one(decode(raw)))
                times.append((time.perf_counter() - t) * 1000.0)
    finally:
        if torch and before:
            torch.set_num_threads(before)
    return pred, times
