"""NEU suite on a small slice of the shared images (linked, never copied)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopfloor.core.errors import ConfigError

pytest.importorskip("skimage", reason="the quality extra (scikit-image) is not installed")

from shopfloor.evals import neu

SRC = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "neu_det"


def _link(dst: Path, numbers, annotations: bool = False) -> Path:
    if not (SRC / "images").is_dir():
        pytest.skip(f"NEU data not found at {SRC}")
    (dst / "images").mkdir(parents=True)
    for c in neu.CLASSES:
        for k in numbers:
            (dst / "images" / f"{c}_{k}.jpg").symlink_to(SRC / "images" / f"{c}_{k}.jpg")
            if annotations:
                (dst / "annotations").mkdir(exist_ok=True)
                (dst / "annotations" / f"{c}_{k}.xml").symlink_to(SRC / "annotations" / f"{c}_{k}.xml")
    return dst


def test_train_and_test_dirs(tmp_path):
    train = _link(tmp_path / "train", range(1, 100, 3))
    test = _link(tmp_path / "test", range(140, 144))
    out = neu.run(train, test, backend="texture")
    assert out["train_images"] == 6 * 33 and out["test_images"] == 24
    assert out["accuracy"] >= 0.8
    assert set(out["per_class_recall"]) == set(neu.CLASSES)
    assert sum(sum(row.values()) for row in out["confusion"].values()) == 24
    assert out["ms_per_image"] > 0 and out["threads"] == 1 and out["model_bytes"] > 0
    json.dumps(out)


def test_holdout_without_test_data(tmp_path):
    data = _link(tmp_path / "d", range(1, 21))
    out = neu.run(data, None, backend="texture")
    assert out["test_images"] == 6 * 4 and out["train_images"] == 6 * 16
    assert "hold-out" in out["protocol"]
    assert (neu.holdout(["a"] * 10 + ["b"] * 10) == neu.holdout(["a"] * 10 + ["b"] * 10)).all()


def test_labels_from_names_and_annotations(tmp_path):
    assert neu.label_of(Path("Cr_12.bmp")) == "crazing"
    assert neu.label_of(Path("rolled-in_scale_7.jpg")) == "rolled-in_scale"
    assert neu.label_of(Path("PS_3.bmp")) == "pitted_surface"
    data = _link(tmp_path / "d", [5], annotations=True)
    renamed = data / "images" / "frame_0001.jpg"
    renamed.symlink_to(SRC / "images" / "patches_5.jpg")
    (data / "annotations" / "frame_0001.xml").symlink_to(SRC / "annotations" / "patches_5.xml")
    assert neu.label_of(renamed) == "patches"
    (data / "images" / "unknown.jpg").write_bytes(b"x")
    paths, labels = neu.scan(data)
    assert len(paths) == 7 and labels.count("patches") == 2


def test_bad_layout(tmp_path):
    with pytest.raises(ConfigError, match="at least two classes"):
        neu.scan(tmp_path)
    with pytest.raises(ConfigError, match="not a directory"):
        neu.scan(tmp_path / "missing")
