"""Signed model bundles: accepted when intact, refused when unsigned, tampered or downgraded."""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.security.signing import BundleRefused, generate_key, public_key
from shopfloor.tinyml.bundle import open_bundle, write_bundle
from shopfloor.tinyml.convert import export
from shopfloor.tinyml.runtime import Runtime, load_bundle


@pytest.fixture
def model(table):
    from sklearn.ensemble import RandomForestClassifier

    X, y = table
    return export(RandomForestClassifier(3, max_depth=4, random_state=0).fit(X, y), "press-4", "1.2.0")


def test_signed_bundle_loads(model, table, tmp_path) -> None:
    key = generate_key()
    info = write_bundle(model, tmp_path / "b", key)
    assert set(info["files"]) == {"model.npz", "model.c"}
    rt = load_bundle(tmp_path / "b", public_key(key), installed_version="1.1.0")
    X, _ = table
    assert np.array_equal(rt.predict(X), Runtime(model).predict(X))
    assert rt.model.version == "1.2.0"


def _reason(fn) -> str:
    with pytest.raises(BundleRefused) as err:
        fn()
    return err.value.reason


def test_refusals(model, tmp_path) -> None:
    key, other = generate_key(), generate_key()
    b = tmp_path / "b"
    write_bundle(model, b, key)
    pub = public_key(key)
    assert _reason(lambda: load_bundle(b, public_key(other))) == "bad_signature"
    assert _reason(lambda: load_bundle(b, pub, installed_version="1.2.0")) == "downgrade"
    assert _reason(lambda: load_bundle(b, pub, installed_version="1.10.0")) == "downgrade"
    data = bytearray((b / "model.npz").read_bytes())
    data[-30] ^= 0xFF
    (b / "model.npz").write_bytes(bytes(data))
    assert _reason(lambda: load_bundle(b, pub)) == "tampered"
    (b / "manifest.sig").unlink()
    assert _reason(lambda: open_bundle(b, pub)) == "unsigned"


def test_model_must_match_its_manifest(model, tmp_path) -> None:
    from shopfloor.security.signing import sign_bundle

    key = generate_key()
    b = tmp_path / "b"
    write_bundle(model, b, key)
    (b / "manifest.json").unlink()
    (b / "manifest.sig").unlink()
    sign_bundle(b, key, kind="model", name="press-4", version="9.0.0")  # signed, but model says 1.2.0
    assert _reason(lambda: open_bundle(b, public_key(key))) == "tampered"
