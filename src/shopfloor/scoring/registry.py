"""A versioned model registry on disk: one folder per asset and model kind.

``<root>/<asset path with / as __>/<kind>/v0001.pkl`` holds the model, ``v0001.json`` its card:
asset, kind, version, created time, the data window it was trained on (first and last sample
time), the features, training metrics and free-form parameters. Versions only grow; ``latest``
is the highest. A model file is only ever loaded from the platform's own data directory.
"""

from __future__ import annotations

import json
import os
import pickle
import time
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError


class ModelNotFound(ConfigError):
    """No model of that asset and kind (or version)."""


def _slug(asset: str) -> str:
    return asset.replace("/", "__")


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _dir(self, asset: str, kind: str) -> Path:
        return self.root / _slug(asset) / kind

    def versions(self, asset: str, kind: str) -> list[int]:
        d = self._dir(asset, kind)
        if not d.is_dir():
            return []
        return sorted(int(p.stem[1:]) for p in d.glob("v*.json") if p.stem[1:].isdigit())

    def save(
        self,
        asset: str,
        kind: str,
        model: Any,
        *,
        window: tuple[int, int],
        features: list[str],
        metrics: dict[str, Any],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store ``model`` as the next version; returns its card."""
        d = self._dir(asset, kind)
        d.mkdir(parents=True, exist_ok=True)
        version = (self.versions(asset, kind) or [0])[-1] + 1
        card = {
            "asset": asset,
            "kind": kind,
            "version": version,
            "created_ns": time.time_ns(),
            "window": {"from_ns": int(window[0]), "to_ns": int(window[1])},
            "features": list(features),
            "metrics": metrics,
            "params": params or {},
        }
        stem = d / f"v{version:04d}"
        tmp = stem.with_suffix(".pkl.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, stem.with_suffix(".pkl"))
        stem.with_suffix(".json").write_text(json.dumps(card, indent=1))  # the card last: it commits
        return card

    def card(self, asset: str, kind: str, version: int | None = None) -> dict[str, Any]:
        versions = self.versions(asset, kind)
        if not versions or (version is not None and version not in versions):
            what = f"version {version} of " if version is not None else ""
            raise ModelNotFound(f"no {what}{kind} model for asset {asset!r}")
        v = versions[-1] if version is None else version
        card: dict[str, Any] = json.loads((self._dir(asset, kind) / f"v{v:04d}.json").read_text())
        return card

    def load(self, asset: str, kind: str, version: int | None = None) -> tuple[Any, dict[str, Any]]:
        card = self.card(asset, kind, version)
        with open(self._dir(asset, kind) / f"v{card['version']:04d}.pkl", "rb") as f:
            model = pickle.load(f)  # our own data directory, written by save()
        return model, card

    def cards(self, asset: str | None = None) -> list[dict[str, Any]]:
        """Every model's latest card (of one asset, or all)."""
        out = []
        if not self.root.is_dir():
            return out
        for asset_dir in sorted(self.root.iterdir()):
            name = asset_dir.name.replace("__", "/")
            if asset is not None and name != asset:
                continue
            for kind_dir in sorted(p for p in asset_dir.iterdir() if p.is_dir()):
                if self.versions(name, kind_dir.name):
                    card = self.card(name, kind_dir.name)
                    card["versions"] = self.versions(name, kind_dir.name)
                    out.append(card)
        return out
