"""Ed25519-signed artefact bundles: edge configuration, models, firmware.

A bundle is a folder of files plus ``manifest.json`` and ``manifest.sig``. The manifest names
the bundle's ``kind`` and ``name``, its ``version``, when it was signed, which key signed it
(``key_id``: the first 16 hex digits of the SHA-256 of the raw public key) and the SHA-256 and
size of every file. The signature is Ed25519 over the manifest's exact bytes.

:func:`verify_bundle` refuses, each with its own reason (:class:`BundleRefused.reason`):
``unsigned`` (no manifest or signature), ``bad_signature`` (wrong key or altered manifest),
``tampered`` (a file changed, missing, or not listed), ``downgrade`` (version not newer than the
installed one), ``wrong_kind`` (a model where firmware was expected). The edge agent checks a
bundle before applying it and keeps the previous one to roll back to.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "model.bin").write_bytes(b"weights")
>>> key = generate_key()
>>> _ = sign_bundle(d, key, kind="model", name="rul", version="1.2.0")
>>> verify_bundle(d, [public_key(key)], installed="1.1.9").version
'1.2.0'
>>> try:
...     verify_bundle(d, [public_key(key)], installed="1.10.0")
... except BundleRefused as err:
...     print(err.reason)
downgrade
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..core.errors import ShopfloorError

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
FORMAT = "shopfloor-bundle/1"
_VERSION = re.compile(r"^\d+(\.\d+){0,3}$")


class BundleRefused(ShopfloorError):
    """A bundle failed verification; ``reason`` says how."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


def version_key(version: str) -> tuple[int, ...]:
    """Numeric dotted version (``1.10.0`` > ``1.9.3``); ValueError for anything else."""
    if not _VERSION.match(version):
        raise ValueError(f"version {version!r} must be dotted numbers like 1.4.2")
    parts = tuple(int(p) for p in version.split("."))
    return parts + (0,) * (4 - len(parts))


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key(key: Ed25519PrivateKey) -> Ed25519PublicKey:
    return key.public_key()


def key_id(pub: Ed25519PublicKey) -> str:
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def save_keypair(key: Ed25519PrivateKey, private_path: Path, public_path: Path) -> None:
    """Private key PEM (``0600``) and public key PEM."""
    private_path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ShopfloorError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ShopfloorError(f"{path}: not an Ed25519 public key")
    return key


def _files(folder: Path) -> dict[str, Path]:
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel not in (MANIFEST, SIGNATURE):
            out[rel] = p
        elif p.is_symlink():
            raise BundleRefused("tampered", f"{rel} is a symbolic link")
    return out


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Manifest:
    kind: str
    name: str
    version: str
    signed_at: int
    key_id: str
    files: dict[str, dict[str, Any]]


def sign_bundle(folder: Path, key: Ed25519PrivateKey, *, kind: str, name: str, version: str) -> Manifest:
    """Write ``manifest.json`` and ``manifest.sig`` into ``folder`` for its current files."""
    folder = Path(folder)
    version_key(version)
    files = {rel: {"sha256": _digest(p), "size": p.stat().st_size} for rel, p in _files(folder).items()}
    if not files:
        raise ShopfloorError(f"bundle folder {folder} has no files to sign")
    body = {
        "format": FORMAT,
        "kind": kind,
        "name": name,
        "version": version,
        "signed_at": time.time_ns(),
        "key_id": key_id(key.public_key()),
        "files": files,
    }
    raw = json.dumps(body, sort_keys=True, indent=1).encode()
    (folder / MANIFEST).write_bytes(raw)
    (folder / SIGNATURE).write_bytes(base64.b64encode(key.sign(raw)) + b"\n")
    return Manifest(kind, name, version, body["signed_at"], body["key_id"], files)


def verify_bundle(
    folder: Path,
    trusted: list[Ed25519PublicKey],
    *,
    installed: str | None = None,
    kind: str | None = None,
) -> Manifest:
    """Check signature, every file and the version; raises :class:`BundleRefused`."""
    folder = Path(folder)
    man, sig = folder / MANIFEST, folder / SIGNATURE
    if not man.is_file() or not sig.is_file():
        raise BundleRefused("unsigned", f"{folder} has no {MANIFEST} and {SIGNATURE}")
    raw = man.read_bytes()
    try:
        signature = base64.b64decode(sig.read_bytes().strip(), validate=True)
    except ValueError:
        raise BundleRefused("bad_signature", f"{SIGNATURE} is not base64") from None
    for pub in trusted:
        try:
            pub.verify(signature, raw)
            break
        except InvalidSignature:
            continue
    else:
        raise BundleRefused("bad_signature", "the manifest is not signed by a trusted key")
    try:
        body = json.loads(raw)
        files: dict[str, dict[str, Any]] = body["files"]
        version, name, bundle_kind = str(body["version"]), str(body["name"]), str(body["kind"])
        version_key(version)
    except (ValueError, KeyError, TypeError) as err:
        raise BundleRefused("tampered", f"manifest is malformed: {err}") from None
    if kind is not None and bundle_kind != kind:
        raise BundleRefused("wrong_kind", f"bundle {name} is a {bundle_kind}, expected a {kind}")
    present = _files(folder)
    extra = sorted(set(present) - set(files))
    if extra:
        raise BundleRefused("tampered", f"files not in the manifest: {', '.join(extra)}")
    for rel, meta in files.items():
        p = present.get(rel)
        if p is None:
            raise BundleRefused("tampered", f"{rel} is missing")
        if p.stat().st_size != meta.get("size") or _digest(p) != meta.get("sha256"):
            raise BundleRefused("tampered", f"{rel} does not match its SHA-256 in the manifest")
    if installed is not None and version_key(version) <= version_key(installed):
        raise BundleRefused(
            "downgrade", f"bundle {name} version {version} is not newer than the installed {installed}"
        )
    return Manifest(
        bundle_kind, name, version, int(body.get("signed_at", 0)), str(body.get("key_id", "")), files
    )


def installed_version(target: Path) -> str | None:
    """Version of the bundle installed under ``target`` (``target/current``), None if none."""
    man = Path(target) / "current" / MANIFEST
    if not man.is_file():
        return None
    try:
        return str(json.loads(man.read_bytes())["version"])
    except (ValueError, KeyError):
        return None


def install_bundle(
    bundle: Path,
    target: Path,
    trusted: list[Ed25519PublicKey],
    *,
    kind: str | None = None,
    apply: Callable[[Path], Any] | None = None,
) -> Manifest:
    """Verify ``bundle``, copy it to ``target/versions/<version>``, switch ``target/current``.

    ``apply(path)`` then puts it into service; if it raises, ``current`` is switched back to the
    previous version (and ``apply`` called on that one) before the error propagates: a failed
    update leaves the device running what it ran before.
    """
    target = Path(target)
    manifest = verify_bundle(bundle, trusted, installed=installed_version(target), kind=kind)
    dest = target / "versions" / manifest.version
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(bundle, dest, symlinks=False)
    verify_bundle(dest, trusted, kind=kind)  # what was copied is what was verified
    current = target / "current"
    previous = current.resolve() if current.is_symlink() else None
    _point(current, dest)
    if apply is None:
        return manifest
    try:
        apply(dest)
    except BaseException:
        if previous is not None:
            _point(current, previous)
            apply(previous)
        else:
            current.unlink(missing_ok=True)
        raise
    return manifest


def _point(link: Path, to: Path) -> None:
    tmp = link.with_name(link.name + ".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(to.resolve(), target_is_directory=True)
    tmp.replace(link)
