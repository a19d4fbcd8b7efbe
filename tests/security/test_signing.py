"""Signed bundles: unsigned, tampered, wrong key, downgrade and wrong kind are refused; rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.security.signing import (
    BundleRefused,
    generate_key,
    install_bundle,
    installed_version,
    load_private_key,
    load_public_key,
    public_key,
    save_keypair,
    sign_bundle,
    verify_bundle,
)


def bundle(tmp_path: Path, name: str, version: str, key, payload: bytes = b"fw") -> Path:  # type: ignore[no-untyped-def]
    d = tmp_path / f"{name}-{version}"
    (d / "bin").mkdir(parents=True)
    (d / "bin" / "firmware.bin").write_bytes(payload)
    (d / "config.toml").write_text("interval_s = 1\n")
    sign_bundle(d, key, kind="firmware", name=name, version=version)
    return d


def reason(fn) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(BundleRefused) as err:
        fn()
    return err.value.reason


def test_refusals(tmp_path: Path) -> None:
    key, stranger = generate_key(), generate_key()
    trusted = [public_key(key)]
    good = bundle(tmp_path, "plc-gw", "2.0.1", key)
    assert verify_bundle(good, trusted, installed="2.0.0", kind="firmware").name == "plc-gw"

    unsigned = tmp_path / "unsigned"
    unsigned.mkdir()
    (unsigned / "a").write_text("x")
    assert reason(lambda: verify_bundle(unsigned, trusted)) == "unsigned"
    assert reason(lambda: verify_bundle(good, [public_key(stranger)])) == "bad_signature"
    assert reason(lambda: verify_bundle(good, trusted, installed="2.0.1")) == "downgrade"
    assert reason(lambda: verify_bundle(good, trusted, installed="10.0")) == "downgrade"
    assert reason(lambda: verify_bundle(good, trusted, kind="model")) == "wrong_kind"

    (good / "bin" / "firmware.bin").write_bytes(b"fx")  # same size, other bytes
    assert reason(lambda: verify_bundle(good, trusted)) == "tampered"
    (good / "bin" / "firmware.bin").write_bytes(b"fw")
    (good / "extra.sh").write_text("rm -rf /")
    assert reason(lambda: verify_bundle(good, trusted)) == "tampered"
    (good / "extra.sh").unlink()
    (good / "config.toml").unlink()
    assert reason(lambda: verify_bundle(good, trusted)) == "tampered"

    other = bundle(tmp_path, "plc-gw", "2.0.2", key)
    raw = (other / "manifest.json").read_text().replace('"2.0.2"', '"9.9.9"')
    (other / "manifest.json").write_text(raw)  # claim a newer version
    assert reason(lambda: verify_bundle(other, trusted)) == "bad_signature"


def test_keys_round_trip(tmp_path: Path) -> None:
    key = generate_key()
    save_keypair(key, tmp_path / "k.pem", tmp_path / "k.pub")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    d = bundle(tmp_path, "m", "1.0", load_private_key(tmp_path / "k.pem"))
    assert verify_bundle(d, [load_public_key(tmp_path / "k.pub")]).version == "1.0"


def test_install_and_roll_back_a_failed_apply(tmp_path: Path) -> None:
    key = generate_key()
    trusted = [public_key(key)]
    target = tmp_path / "installed"
    applied: list[str] = []
    install_bundle(
        bundle(tmp_path, "gw", "1.0", key), target, trusted, apply=lambda p: applied.append(p.name)
    )
    assert installed_version(target) == "1.0"

    def broken(path: Path) -> None:
        applied.append(path.name)
        if path.name == "1.1":
            raise RuntimeError("new firmware does not boot")

    with pytest.raises(RuntimeError, match="does not boot"):
        install_bundle(bundle(tmp_path, "gw", "1.1", key, b"v11"), target, trusted, apply=broken)
    assert installed_version(target) == "1.0" and applied == ["1.0", "1.1", "1.0"]
    assert reason(lambda: install_bundle(bundle(tmp_path, "gw", "0.9", key), target, trusted)) == "downgrade"
    install_bundle(bundle(tmp_path, "gw", "1.2", key, b"v12"), target, trusted)
    assert installed_version(target) == "1.2"
