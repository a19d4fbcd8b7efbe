"""The one data model that flows through shopfloor: a sample.

A sample is (asset, tag, time, value, quality). ``asset`` is the asset's path
in the plant (``site/area/line/machine[/component]``), ``ts`` is UTC epoch
nanoseconds, ``quality`` follows the OPC quality bytes (192 good, 64 uncertain,
0 bad).

>>> s = Sample("mill/converting/line1/cutter", "cutting_force", 1_700_000_000_000_000_000, 812.5)
>>> s.key, s.quality is Quality.GOOD
('mill/converting/line1/cutter/cutting_force', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

Value = float | int | bool | str


class Quality(IntEnum):
    """OPC-style quality of one sample."""

    BAD = 0
    UNCERTAIN = 64
    GOOD = 192

    @classmethod
    def parse(cls, raw: object) -> Quality:
        """Accept 192/64/0, 'good'/'uncertain'/'bad' (any case).

        >>> Quality.parse("Good"), Quality.parse(64)
        (<Quality.GOOD: 192>, <Quality.UNCERTAIN: 64>)
        """
        if isinstance(raw, str):
            try:
                return cls[raw.strip().upper()]
            except KeyError:
                raise ValueError(f"unknown quality {raw!r}: use good, uncertain or bad") from None
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"quality must be 192, 64, 0 or a name, got {raw!r}")
        if raw >= 192:
            return cls.GOOD
        if raw >= 64:
            return cls.UNCERTAIN
        if raw >= 0:
            return cls.BAD
        raise ValueError(f"quality must not be negative, got {raw}")


@dataclass(slots=True, frozen=True)
class Sample:
    """One value of one tag of one asset at one time."""

    asset: str
    tag: str
    ts: int
    value: Value
    quality: Quality = Quality.GOOD

    @property
    def key(self) -> str:
        """``asset/tag``: the series this sample belongs to."""
        return f"{self.asset}/{self.tag}"


def split_key(key: str) -> tuple[str, str]:
    """Split ``asset/tag`` into its asset path and tag name.

    >>> split_key("mill/line1/cutter/cutting_force")
    ('mill/line1/cutter', 'cutting_force')
    """
    asset, sep, tag = key.rpartition("/")
    if not sep or not asset or not tag:
        raise ValueError(f"series key {key!r} is not 'asset/tag'")
    return asset, tag


@dataclass(slots=True, frozen=True)
class DeadLetter:
    """A rejected input, kept with its raw payload and the reason, so nothing is lost silently.

    ``reason`` is the short code of the :class:`~shopfloor.core.errors.IngestError` subclass
    (``malformed``, ``unknown_tag``, ...); ``error`` the full human-readable message.
    """

    ts: int
    source: str  # "mqtt", "http", "sparkplug", ...
    topic: str  # MQTT topic or HTTP path
    reason: str
    error: str
    payload: bytes
