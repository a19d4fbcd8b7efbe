"""The ISA-95 asset model: enterprise > site > area > line > machine > component.

A plant is described by one file (TOML or YAML, same schema)::

    [plant]
    enterprise = "acme"            # the root; not part of asset paths
    name = "ACME Paper, Riverside mill"

    [[asset]]
    path = "riverside"             # a site
    name = "Riverside mill"

    [[asset]]
    path = "riverside/converting/line1/cutter"
    kind = "cutter"                # free text; the simulator uses it to pick a model
    description = "Sheet cutter"

    [[asset.tag]]
    name = "cutting_force"
    unit = "N"
    type = "float"                 # float | int | bool | str
    low = 0                        # engineering limits (optional)
    high = 5000
    description = "Peak force per cut"

Asset paths run from the site down, one segment per ISA-95 level; the level is
given by depth (1 site, 2 area, 3 line, 4 machine, 5+ component) unless set
with ``level``. Missing parents are created. Segment names are lower-case
letters, digits, ``_`` and ``-`` so they can be MQTT topic levels.

>>> plant = Plant.from_dict({"plant": {"enterprise": "acme"}, "asset": [
...     {"path": "s/a/l/m", "tag": [{"name": "t", "unit": "degC", "high": 90}]}]})
>>> plant.asset("s/a/l/m").level, plant.asset("s/a").level
(<Level.MACHINE: 'machine'>, <Level.AREA: 'area'>)
>>> plant.tag("s/a/l/m", "t").high
90.0
>>> [a.path for a in plant.children("s/a")]
['s/a/l']
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import PlantModelError, UnitError
from .units import canonical

_SEGMENT = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
RESERVED_SEGMENTS = frozenset({"data", "state", "event", "cmd", "status"})


class Level(StrEnum):
    ENTERPRISE = "enterprise"
    SITE = "site"
    AREA = "area"
    LINE = "line"
    MACHINE = "machine"
    COMPONENT = "component"


_DEPTH_LEVEL = {1: Level.SITE, 2: Level.AREA, 3: Level.LINE, 4: Level.MACHINE}
_LEVEL_RANK = {lv: i for i, lv in enumerate(Level)}

DataType = Literal["float", "int", "bool", "str"]


class Tag(BaseModel):
    """One measured or set point of an asset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    unit: str = ""
    type: DataType = "float"
    low: float | None = None
    high: float | None = None
    description: str = ""
    writable: bool = False
    """Setpoints the platform may write back (through the command path)."""

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not _SEGMENT.match(v):
            raise ValueError(f"tag name {v!r} must be lower-case letters, digits, '_' or '-'")
        return v

    @field_validator("unit")
    @classmethod
    def _unit_ok(cls, v: str) -> str:
        if v:
            try:
                canonical(v)
            except UnitError as err:
                raise ValueError(str(err)) from None
        return v

    @model_validator(mode="after")
    def _limits_ok(self) -> Tag:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"tag {self.name!r}: low {self.low} is above high {self.high}")
        return self


class Asset(BaseModel):
    """One node of the ISA-95 tree."""

    model_config = ConfigDict(extra="forbid")

    path: str
    name: str = ""
    level: Level | None = None
    kind: str = ""
    description: str = ""
    attributes: dict[str, Any] = Field(default_factory=dict)
    tags: list[Tag] = Field(default_factory=list, alias="tag")

    @field_validator("path")
    @classmethod
    def _path_ok(cls, v: str) -> str:
        segments = v.split("/")
        for seg in segments:
            if not _SEGMENT.match(seg):
                raise ValueError(
                    f"asset path {v!r}: segment {seg!r} must be lower-case letters, digits, '_' or '-'"
                )
            if seg in RESERVED_SEGMENTS:
                raise ValueError(f"asset path {v!r}: {seg!r} is reserved for topic kinds")
        return v

    @property
    def parent(self) -> str | None:
        head, sep, _ = self.path.rpartition("/")
        return head if sep else None

    @property
    def id(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def tag(self, name: str) -> Tag | None:
        for t in self.tags:
            if t.name == name:
                return t
        return None


class Plant:
    """A validated plant: assets by path, tags by (asset, name)."""

    def __init__(self, enterprise: str, name: str, assets: list[Asset]) -> None:
        self.enterprise = enterprise
        self.name = name or enterprise
        self._assets: dict[str, Asset] = {}
        self._tags: dict[tuple[str, str], Tag] = {}
        self._children: dict[str | None, list[str]] = {}
        for asset in assets:
            self._add(asset)
        for path in list(self._assets):
            self._add_parents(path)
        for asset in self._assets.values():
            self._children.setdefault(asset.parent, []).append(asset.path)
            self._check_level(asset)

    # -- building -------------------------------------------------------------------------

    def _add(self, asset: Asset) -> None:
        if asset.path in self._assets:
            raise PlantModelError(f"asset {asset.path!r} is declared twice")
        if asset.level is None:
            asset.level = _DEPTH_LEVEL.get(asset.path.count("/") + 1, Level.COMPONENT)
        if not asset.name:
            asset.name = asset.id.replace("_", " ").replace("-", " ").capitalize()
        seen: set[str] = set()
        for tag in asset.tags:
            if tag.name in seen:
                raise PlantModelError(f"asset {asset.path!r}: tag {tag.name!r} is declared twice")
            seen.add(tag.name)
            self._tags[(asset.path, tag.name)] = tag
        self._assets[asset.path] = asset

    def add_derived_tag(self, asset: str, tag: Tag) -> None:
        """Add a tag computed by the platform (an anomaly score, a health index) to ``asset``.

        Idempotent for the same tag; a different tag of the same name is an error.
        """
        node = self.asset(asset)
        existing = self._tags.get((asset, tag.name))
        if existing is not None:
            if existing != tag:
                raise PlantModelError(f"asset {asset!r} already has a different tag {tag.name!r}")
            return
        node.tags.append(tag)
        self._tags[(asset, tag.name)] = tag

    def _add_parents(self, path: str) -> None:
        parent = path.rpartition("/")[0]
        while parent and parent not in self._assets:
            self._add(Asset(path=parent))
            parent = parent.rpartition("/")[0]

    def _check_level(self, asset: Asset) -> None:
        if asset.parent is None:
            if asset.level is not Level.SITE:
                raise PlantModelError(f"asset {asset.path!r}: a top-level asset must be a site")
            return
        parent = self._assets[asset.parent]
        assert asset.level is not None and parent.level is not None
        if _LEVEL_RANK[asset.level] <= _LEVEL_RANK[parent.level]:
            raise PlantModelError(
                f"asset {asset.path!r}: level {asset.level.value!r} must be below its parent's "
                f"level {parent.level.value!r}"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "plant") -> Plant:
        head = data.get("plant", {})
        if not isinstance(head, dict):
            raise PlantModelError(f"{source}: [plant] must be a table")
        raw_assets = data.get("asset", [])
        if not isinstance(raw_assets, list):
            raise PlantModelError(f"{source}: 'asset' must be a list of tables ([[asset]])")
        assets = []
        for i, raw in enumerate(raw_assets):
            where = raw.get("path", f"#{i + 1}") if isinstance(raw, dict) else f"#{i + 1}"
            try:
                assets.append(Asset.model_validate(raw))
            except ValidationError as err:
                detail = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'asset'}: {e['msg']}" for e in err.errors()
                )
                raise PlantModelError(f"{source}: asset {where!r}: {detail}") from None
        enterprise = str(head.get("enterprise", "enterprise"))
        return cls(enterprise, str(head.get("name", "")), assets)

    @classmethod
    def load(cls, path: str | Path) -> Plant:
        """Load a plant file (``.toml``, ``.yaml`` or ``.yml``)."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as err:
            raise PlantModelError(f"cannot read plant file {str(p)!r}: {err.strerror}") from err
        try:
            if p.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text) or {}
            else:
                data = tomllib.loads(text)
        except Exception as err:  # any parser error means a bad file
            raise PlantModelError(f"plant file {str(p)!r} is not valid: {err}") from err
        if not isinstance(data, dict):
            raise PlantModelError(f"plant file {str(p)!r} must hold a table at top level")
        return cls.from_dict(data, source=str(p))

    # -- queries ----------------------------------------------------------------------------

    def asset(self, path: str) -> Asset:
        try:
            return self._assets[path]
        except KeyError:
            raise KeyError(f"no asset {path!r}") from None

    def get_asset(self, path: str) -> Asset | None:
        return self._assets.get(path)

    def tag(self, asset: str, name: str) -> Tag:
        try:
            return self._tags[(asset, name)]
        except KeyError:
            raise KeyError(f"asset {asset!r} has no tag {name!r}") from None

    def get_tag(self, asset: str, name: str) -> Tag | None:
        return self._tags.get((asset, name))

    def children(self, path: str | None) -> list[Asset]:
        return [self._assets[p] for p in self._children.get(path, [])]

    def roots(self) -> list[Asset]:
        return self.children(None)

    def assets(self) -> Iterator[Asset]:
        return iter(self._assets.values())

    def tags(self) -> Iterator[tuple[Asset, Tag]]:
        for asset in self._assets.values():
            for tag in asset.tags:
                yield asset, tag

    def descendants(self, path: str) -> Iterator[Asset]:
        for child in self.children(path):
            yield child
            yield from self.descendants(child.path)

    def __len__(self) -> int:
        return len(self._assets)

    def __contains__(self, path: object) -> bool:
        return path in self._assets

    def to_dict(self) -> dict[str, Any]:
        """The plant as the file schema (round-trips through :meth:`from_dict`)."""
        out = []
        for asset in self._assets.values():
            raw = asset.model_dump(by_alias=True, exclude_defaults=True, mode="json")
            raw["level"] = asset.level.value if asset.level else None
            out.append(raw)
        return {"plant": {"enterprise": self.enterprise, "name": self.name}, "asset": out}

    def tree(self, path: str | None = None) -> list[dict[str, Any]]:
        """Nested JSON-friendly view of the tree (for the API and dashboard)."""
        return [
            {
                "path": a.path,
                "name": a.name,
                "level": a.level.value if a.level else None,
                "kind": a.kind,
                "tags": [t.name for t in a.tags],
                "children": self.tree(a.path),
            }
            for a in self.children(path)
        ]
