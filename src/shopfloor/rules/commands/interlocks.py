"""Interlocks: the checks a setpoint command must pass before it is sent, and again right before.

In order, each refusal with a short ``reason`` code:

- ``unknown_tag``: the plant has no such asset or tag;
- ``not_writable``: the tag is not a setpoint (``writable = true`` in the plant file);
- ``bad_value``: not a finite number (or 0/1 for a bool tag);
- ``out_of_limits``: outside the tag's engineering limits ``low`` .. ``high``;
- ``mode``: the machine mode (the interlock's ``mode_tag``, where the asset has that tag) is
  unknown or not one of ``modes``;
- ``step_too_large``: further than ``max_step`` from the current value;
- ``rate_limit``: faster than ``max_rate_per_s`` since the last command to the same tag.

Every interlock entry whose ``asset`` and ``tag`` patterns match applies; a command is
critical (needs a second person) when any matching entry says so.

>>> from shopfloor.core.assets import Plant
>>> plant = Plant.from_dict({"asset": [{"path": "s/a/l/m", "tag": [
...     {"name": "speed_sp", "low": 50, "high": 110, "writable": True}, {"name": "speed"}]}]})
>>> locks = Interlocks(plant, [])
>>> locks.static("s/a/l/m", "speed_sp", 120)
Traceback (most recent call last):
...
shopfloor.rules.commands.model.InterlockRefused: s/a/l/m/speed_sp: 120 is above the high limit 110
>>> locks.static("s/a/l/m", "speed_sp", 80)
80.0
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from fnmatch import fnmatchcase

from ...core.assets import Plant
from ...core.sample import Value
from ...core.settings import InterlockSettings
from .model import InterlockRefused

Latest = Callable[[str, str], Awaitable[Value | None]]


class Interlocks:
    """The interlock checks for one plant; see the module docstring."""

    def __init__(self, plant: Plant, entries: Sequence[InterlockSettings]) -> None:
        self.plant = plant
        self.entries = list(entries)
        self._last: dict[tuple[str, str], tuple[int, float]] = {}  # last command sent: (ns, value)

    def matching(self, asset: str, tag: str) -> list[InterlockSettings]:
        return [e for e in self.entries if fnmatchcase(asset, e.asset.strip("/")) and fnmatchcase(tag, e.tag)]

    def critical(self, asset: str, tag: str) -> bool:
        return any(e.critical for e in self.matching(asset, tag))

    def static(self, asset: str, tag: str, value: object) -> float:
        """Checks that need no live data: tag, writable, type, limits. The value as a float."""
        where = f"{asset}/{tag}"
        spec = self.plant.get_tag(asset, tag)
        if spec is None:
            raise InterlockRefused("unknown_tag", f"{where}: the plant has no such asset or tag")
        if not spec.writable:
            raise InterlockRefused("not_writable", f"{where}: not a setpoint (the plant marks it read-only)")
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise InterlockRefused("bad_value", f"{where}: value {value!r} is not a finite number")
        v = float(value)
        if spec.type == "bool" and v not in (0.0, 1.0):
            raise InterlockRefused("bad_value", f"{where}: a bool setpoint takes 0 or 1, got {v:g}")
        if spec.type == "int" and not v.is_integer():
            raise InterlockRefused("bad_value", f"{where}: an int setpoint takes whole numbers, got {v:g}")
        if spec.low is not None and v < spec.low:
            raise InterlockRefused("out_of_limits", f"{where}: {v:g} is below the low limit {spec.low:g}")
        if spec.high is not None and v > spec.high:
            raise InterlockRefused("out_of_limits", f"{where}: {v:g} is above the high limit {spec.high:g}")
        return v

    async def check(self, asset: str, tag: str, value: object, latest: Latest | None, now: int) -> float:
        """Every check; raises :class:`InterlockRefused` naming the first that fails."""
        v = self.static(asset, tag, value)
        where = f"{asset}/{tag}"
        asset_obj = self.plant.get_asset(asset)
        for e in self.matching(asset, tag):
            if e.mode_tag and e.modes and asset_obj is not None and asset_obj.tag(e.mode_tag) is not None:
                mode = await latest(asset, e.mode_tag) if latest is not None else None
                if mode is None:
                    raise InterlockRefused("mode", f"{where}: machine mode ({e.mode_tag}) is unknown")
                shown = str(int(mode)) if isinstance(mode, float) and mode.is_integer() else str(mode)
                if shown not in e.modes:
                    raise InterlockRefused(
                        "mode", f"{where}: machine mode {shown!r} does not allow writes (allowed: {e.modes})"
                    )
            if e.max_step is not None and latest is not None:
                current = await latest(asset, tag)
                if isinstance(current, int | float) and abs(v - float(current)) > e.max_step:
                    raise InterlockRefused(
                        "step_too_large",
                        f"{where}: step {abs(v - float(current)):g} from {float(current):g} exceeds "
                        f"max_step {e.max_step:g}",
                    )
            last = self._last.get((asset, tag))
            if e.max_rate_per_s is not None and last is not None:
                dt = max((now - last[0]) / 1e9, 1e-9)
                rate = abs(v - last[1]) / dt
                if rate > e.max_rate_per_s:
                    raise InterlockRefused(
                        "rate_limit",
                        f"{where}: change rate {rate:.3g}/s since the last command exceeds "
                        f"max_rate_per_s {e.max_rate_per_s:g}",
                    )
        return v

    def sent(self, asset: str, tag: str, value: float, now: int) -> None:
        """Remember a command that was sent (for the rate-of-change check)."""
        self._last[(asset, tag)] = (now, value)
