"""Signed model bundles: ``model.npz`` (+ ``model.c``) with an Ed25519-signed manifest.

Packaging and checking go through :mod:`shopfloor.security.signing` (manifest with kind
``model``, name, version and the SHA-256 of every file). :func:`open_bundle` refuses unsigned,
tampered, wrongly signed and downgraded bundles (:class:`~shopfloor.security.signing.BundleRefused`
with its ``reason``), and a bundle whose model file names another model or version than its
manifest. Pushing bundles to edge agents, hot swap and rollback are the edge agent's
(``signing.install_bundle`` keeps the previous version to roll back to).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from shopfloor.security.signing import BundleRefused, sign_bundle, verify_bundle

from .codegen import generate
from .model import MODEL_FILE, TinyModel

log = logging.getLogger(__name__)

KIND = "model"
C_FILE = "model.c"


def write_bundle(model: TinyModel, folder: Path, private_key: Any, *, with_c: bool = True) -> dict[str, Any]:
    """Write ``model`` (and its C source) into ``folder`` and sign it; returns the manifest summary."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    model.save(folder / MODEL_FILE)
    if with_c:
        (folder / C_FILE).write_text(generate(model))
    man = sign_bundle(folder, private_key, kind=KIND, name=model.name, version=model.version)
    log.info("signed model bundle %s %s in %s (key %s)", man.name, man.version, folder, man.key_id)
    return {
        "bundle": str(folder),
        "name": man.name,
        "version": man.version,
        "key_id": man.key_id,
        "files": man.files,
    }


def open_bundle(folder: Path, public_key: Any, installed_version: str | None = None) -> TinyModel:
    """Verify the bundle in ``folder`` against ``public_key`` (one key or a list) and load its model."""
    keys = list(public_key) if isinstance(public_key, list | tuple) else [public_key]
    man = verify_bundle(Path(folder), keys, installed=installed_version, kind=KIND)
    if MODEL_FILE not in man.files:
        raise BundleRefused("tampered", f"bundle {man.name} has no {MODEL_FILE}")
    model = TinyModel.load(Path(folder) / MODEL_FILE)
    if (model.name, model.version) != (man.name, man.version):
        raise BundleRefused(
            "tampered",
            f"model file is {model.name} {model.version}, the manifest says {man.name} {man.version}",
        )
    return model
