"""Resolve (asset, tag) to a tag's rules and turn one raw value into a :class:`Sample`.

The plant is flattened once into dicts (:class:`Catalog`) so the hot path pays dict look-ups,
not model walks. Rules per tag type: ``float`` accepts ints and floats, ``int`` ints (and
floats with an integral value), ``bool`` only true/false, ``str`` only strings; a bool is
never a number. NaN and infinities are rejected. A value with a unit is converted to the
tag's unit (never stored mixed). A value outside the tag's engineering limits is kept with
quality BAD and reported as out of limits.

>>> from shopfloor.core.assets import Plant
>>> plant = Plant.from_dict({"asset": [{"path": "s/a/l/m", "tag": [
...     {"name": "temp", "unit": "degC", "low": 0, "high": 100}]}]})
>>> cat = Catalog(plant)
>>> rule = cat.tag("s/a/l/m", "temp")
>>> s, out = make_sample("s/a/l/m", rule, {"value": 212, "unit": "degF"}, 0, Quality.GOOD)
>>> round(s.value, 6), s.quality.name, out
(100.0, 'GOOD', False)
>>> make_sample("s/a/l/m", rule, 150, 0, Quality.GOOD)[0].quality.name
'BAD'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.assets import Plant, Tag
from ..core.clock import parse_ts
from ..core.errors import (
    BadTimestamp,
    BadUnit,
    DecodeError,
    NotFinite,
    TypeMismatch,
    UnitError,
    UnknownAsset,
    UnknownTag,
)
from ..core.sample import Quality, Sample
from ..core.units import converter


def _sample_factory() -> Callable[[str, str, int, Any, Quality], Sample]:
    """A fast :class:`Sample` constructor for the hot path.

    ``Sample`` is a frozen slots dataclass, whose ``__init__`` sets each field through
    ``object.__setattr__``; setting the slots through their descriptors makes the same object
    in about half the time. Falls back to the constructor if ``Sample`` ever changes shape.
    """
    fields = ("asset", "tag", "ts", "value", "quality")
    if getattr(Sample, "__slots__", None) != fields:
        return Sample
    new = object.__new__
    set_asset, set_tag, set_ts, set_value, set_quality = (getattr(Sample, f).__set__ for f in fields)

    def make(asset: str, tag: str, ts: int, value: Any, quality: Quality) -> Sample:
        s = new(Sample)
        set_asset(s, asset)
        set_tag(s, tag)
        set_ts(s, ts)
        set_value(s, value)
        set_quality(s, quality)
        return s  # type: ignore[no-any-return]

    return make


new_sample = _sample_factory()


@dataclass(slots=True)
class TagRule:
    """What ingest needs to know about one tag, flattened for speed."""

    name: str
    type: str
    unit: str
    low: float | None
    high: float | None
    plain_float: bool = False
    """A float tag without limits: a finite float needs no further checks (the fast path)."""
    _converters: dict[str, Callable[[float], float]] = field(default_factory=dict)

    @classmethod
    def of(cls, tag: Tag) -> TagRule:
        plain = tag.type == "float" and tag.low is None and tag.high is None
        return cls(tag.name, tag.type, tag.unit, tag.low, tag.high, plain)

    def converter(self, unit: str) -> Callable[[float], float]:
        conv = self._converters.get(unit)
        if conv is None:
            if not self.unit:
                raise BadUnit(f"tag {self.name!r} has no unit, but the value came in {unit!r}")
            try:
                conv = converter(unit, self.unit)
            except UnitError as err:
                raise BadUnit(f"tag {self.name!r} is in {self.unit!r}: {err}") from None
            if len(self._converters) < 64:
                self._converters[unit] = conv
        return conv


class Catalog:
    """Every asset's tags as dicts: ``tags(asset) -> {name: TagRule}``."""

    def __init__(self, plant: Plant) -> None:
        self._assets: dict[str, dict[str, TagRule]] = {}
        for asset in plant.assets():
            self._assets[asset.path] = {t.name: TagRule.of(t) for t in asset.tags}

    def tags(self, asset: str) -> dict[str, TagRule]:
        rules = self._assets.get(asset)
        if rules is None:
            raise UnknownAsset(f"unknown asset {asset!r}: not in the plant model")
        return rules

    def tag(self, asset: str, name: str) -> TagRule:
        rule = self.tags(asset).get(name)
        if rule is None:
            raise UnknownTag(f"asset {asset!r} has no tag {name!r}")
        return rule

    def __contains__(self, asset: object) -> bool:
        return asset in self._assets


def parse_quality(raw: object) -> Quality:
    if raw is None:
        return Quality.GOOD
    try:
        return Quality.parse(raw)
    except ValueError as err:
        raise DecodeError(f"bad quality: {err}") from None


def parse_time(raw: object, now: int, max_future_ns: int) -> int:
    """Epoch ns of ``raw`` (``None`` = ``now``); rejects unreadable and future times."""
    if raw is None:
        return now
    try:
        ts = parse_ts(raw)
    except (ValueError, OverflowError) as err:
        raise BadTimestamp(f"bad timestamp: {err}") from None
    if ts > now + max_future_ns:
        ahead = (ts - now) / 1e9
        raise BadTimestamp(
            f"timestamp {raw!r} is {ahead:.1f} s in the future "
            f"(more than {max_future_ns / 1e9:g} s is rejected)"
        )
    return ts


def coerce(rule: TagRule, value: Any) -> float | int | bool | str:
    """``value`` as the tag's type, or :class:`TypeMismatch` / :class:`NotFinite`."""
    kind = rule.type
    tv = type(value)
    if kind == "float":
        if tv is float:
            if not math.isfinite(value):
                raise NotFinite(f"tag {rule.name!r}: {value!r} is not a finite number")
            return value  # type: ignore[no-any-return]
        if tv is int:
            as_float = float(value) if -(2**1023) < value < 2**1023 else math.inf
            if math.isinf(as_float):
                raise NotFinite(f"tag {rule.name!r}: {value} is too large for a float")
            return as_float
    elif kind == "int":
        if tv is int:
            if not -(2**63) <= value < 2**63:
                raise TypeMismatch(f"tag {rule.name!r} is an int: {value} does not fit in 64 bits")
            return value  # type: ignore[no-any-return]
        if tv is float:
            if not math.isfinite(value):
                raise NotFinite(f"tag {rule.name!r}: {value!r} is not a finite number")
            if value.is_integer() and abs(value) < 2**63:
                return int(value)
            raise TypeMismatch(f"tag {rule.name!r} is an int, got {value!r}")
    elif kind == "bool":
        if tv is bool:
            return value  # type: ignore[no-any-return]
    elif kind == "str" and tv is str:
        return value  # type: ignore[no-any-return]
    article = "an" if kind == "int" else "a"
    raise TypeMismatch(f"tag {rule.name!r} is {article} {kind}, got {_kind(value)} {_short(value)}")


def make_sample(asset: str, rule: TagRule, raw: Any, ts: int, quality: Quality) -> tuple[Sample, bool]:
    """One sample from a raw value (bare or ``{"value", "unit", "q"}``); ``True`` if out of limits."""
    if type(raw) is dict:
        if "value" not in raw:
            raise DecodeError(
                f"tag {rule.name!r}: value object needs a 'value' key, got keys {sorted(raw)[:5]}"
            )
        unit = raw.get("unit")
        if raw.get("q") is not None:
            quality = parse_quality(raw["q"])
        value = coerce(rule, raw["value"])
        if unit is not None and unit != rule.unit:
            if not isinstance(unit, str):
                raise BadUnit(f"tag {rule.name!r}: unit must be a string, got {_short(unit)}")
            if rule.type not in ("float", "int"):
                raise BadUnit(f"tag {rule.name!r} is a {rule.type}: it takes no unit, got {unit!r}")
            converted = rule.converter(unit)(float(value))
            value = converted if rule.type == "float" else round(converted)
    else:
        value = coerce(rule, raw)
    out = False
    low, high = rule.low, rule.high
    if (low is not None or high is not None) and type(value) is not str and type(value) is not bool:
        out = (low is not None and value < low) or (high is not None and value > high)  # type: ignore[operator]
        if out:
            quality = Quality.BAD
    return new_sample(asset, rule.name, ts, value, quality), out


def _kind(value: object) -> str:
    return (
        {bool: "bool", int: "int", float: "float", str: "str", list: "array", dict: "object"}.get(
            type(value), type(value).__name__
        )
        if value is not None
        else "null"
    )


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
