"""Defect classifier on a small slice of the NEU images (skipped when the data or extras are absent)."""

from __future__ import annotations

import importlib.util
import io
import re
from pathlib import Path

import numpy as np
import pytest

from shopfloor.core.errors import ConfigError

pytest.importorskip("skimage", reason="the quality extra (scikit-image) is not installed")
pytest.importorskip("PIL", reason="the quality extra (pillow) is not installed")

from shopfloor.analytics.quality.vision import DefectClassifier, decode, texture_features

IMAGES = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "neu_det" / "images"
CLASSES = ("crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches")


def _slice(numbers):
    if not IMAGES.is_dir():
        pytest.skip(f"NEU images not found at {IMAGES}")
    imgs, labels = [], []
    for c in CLASSES:
        for k in numbers:
            imgs.append(decode((IMAGES / f"{c}_{k}.jpg").read_bytes()))
            labels.append(c)
    return imgs, labels


def test_decode_and_features():
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)).save(buf, "PNG")
    img = decode(buf.getvalue())
    assert img.shape == (64, 80) and img.dtype == np.uint8
    f = texture_features(img)
    assert f.shape == (297,) and np.isfinite(f).all()
    assert np.allclose(texture_features(img.astype(float) / 255.0), f)  # float images in [0, 1] too
    with pytest.raises(ConfigError, match="decode"):
        decode(b"not an image")
    with pytest.raises(ConfigError, match="2-D"):
        texture_features(np.zeros((4, 4)))


def test_texture_classifier_on_unseen_images():
    train, ytrain = _slice(range(1, 100, 2))
    test, ytest = _slice(range(101, 111))  # later images of each class: never seen in training
    clf = DefectClassifier(backend="texture").fit(train, ytrain)
    pred = clf.predict(test)
    acc = np.mean(np.array(pred) == np.array(ytest))
    assert acc >= 0.9, acc  # 50 training images per class; the full eval trains on 150
    again = DefectClassifier.from_bytes(clf.to_bytes())
    assert again.predict_one(test[0]) == pred[0]
    assert len(clf.to_bytes()) < 5_000_000


def test_bad_use_is_named():
    with pytest.raises(ConfigError, match="backend"):
        DefectClassifier(backend="vit")
    with pytest.raises(ConfigError, match="fit it first"):
        DefectClassifier(backend="texture").predict_one(np.zeros((32, 32), np.uint8))
    with pytest.raises(ConfigError, match="two classes"):
        DefectClassifier(backend="texture").fit([np.zeros((32, 32), np.uint8)] * 2, ["a", "a"])


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch (the vision extra) is not installed"
)
def test_cnn_and_ensemble_backends_learn():
    train, ytrain = _slice(range(1, 60, 2))
    test, ytest = _slice(range(61, 66))
    cnn = DefectClassifier(backend="cnn", size=64, epochs=15, width=8, threads=1).fit(train, ytrain)
    pred = cnn.predict(test)
    assert np.mean(np.array(pred) == np.array(ytest)) > 0.5  # far above chance (1/6) after a short training
    assert DefectClassifier.from_bytes(cnn.to_bytes()).predict(test) == pred
    assert re.fullmatch(r"[a-z_-]+", pred[0])
    ens = DefectClassifier(backend="ensemble", size=64, epochs=15, width=8, threads=1).fit(train, ytrain)
    assert np.mean(np.array(ens.predict(test)) == np.array(ytest)) > 0.8
    assert DefectClassifier.from_bytes(ens.to_bytes()).predict_one(test[3]) == ens.predict_one(test[3])
