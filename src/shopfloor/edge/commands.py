"""Setpoint commands from the platform, checked against local interlocks before they reach a PLC.

Commands arrive on ``<root>/cmd/<asset path>/set`` as ``{"id", "tag", "value", "writer"}``
(the same command topic the simulated plant uses); the result goes to
``<root>/<asset path>/event`` as ``{"type": "command_result", "id", "status", "ok", ...}``
with ``status`` one of:

* ``refused``: an interlock said no; ``reason`` is a code and ``error`` the explanation.
  Checks, in order: the tag has an interlock entry (else ``not_writable``), the writer is
  allowed (``writer_not_allowed``), the value is a finite number (``bad_value``), within
  ``low``/``high`` (``out_of_limits``), the machine mode allows writes (``mode``), the step
  from the current value is within ``max_step`` (``step_too_large``) and the change rate since
  the last write is within ``max_rate_per_s`` (``rate_limit``).
* ``done``: written to the PLC and read back equal (within ``tolerance``).
* ``failed``: the write or read-back failed (``error``), or it was not confirmed within
  ``commands.timeout_s`` (``reason = "timeout"``).

A repeated command id gets the first result again without writing twice.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import msgspec

from ..core.errors import CommandRefused, ConnectorError
from .config import CommandSettings, Interlock

log = logging.getLogger(__name__)

_DEC = msgspec.json.Decoder()


class Target(Protocol):
    async def read_value(self, key: tuple[str, str]) -> Any: ...
    async def write_value(self, key: tuple[str, str], value: Any) -> None: ...


class Refusal(CommandRefused):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Executor:
    """Checks and executes commands; ``targets`` maps (asset, tag) to the connector owning it."""

    def __init__(
        self,
        settings: CommandSettings,
        targets: dict[tuple[str, str], Target],
        latest: Callable[[str, str], Any],
        publish: Callable[[str, dict[str, Any]], Awaitable[None] | None],
    ) -> None:
        self.settings = settings
        self.targets = targets
        self.latest = latest
        self.publish = publish
        self.interlocks: dict[tuple[str, str], Interlock] = {(i.asset, i.tag): i for i in settings.interlocks}
        self._last_write: dict[tuple[str, str], tuple[float, float]] = {}
        self._results: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.counts: dict[str, int] = {"done": 0, "refused": 0, "failed": 0, "malformed": 0}

    def assets(self) -> set[str]:
        return {a for a, _ in self.interlocks}

    async def handle(self, asset: str, payload: bytes, now: float | None = None) -> dict[str, Any]:
        """Run one command message for ``asset``; publishes and returns the result."""
        try:
            body = _DEC.decode(payload)
            if not isinstance(body, dict) or not isinstance(body.get("tag"), str) or "value" not in body:
                raise ValueError('a command is {"id", "tag", "value", "writer"}')
        except (msgspec.DecodeError, ValueError) as err:
            self.counts["malformed"] += 1
            result = {
                "type": "command_result",
                "asset": asset,
                "id": None,
                "status": "refused",
                "ok": False,
                "reason": "malformed",
                "error": f"malformed command: {err}",
            }
            await self._emit(asset, result)
            return result
        cid = str(body.get("id") or "")
        if cid and cid in self._results:
            result = self._results[cid]
            await self._emit(asset, result)
            return result
        result = await self.execute(asset, body["tag"], body["value"], body.get("writer"), now)
        result["id"] = cid or None
        if cid:
            self._results[cid] = result
            while len(self._results) > 1000:
                self._results.popitem(last=False)
        await self._emit(asset, result)
        return result

    async def execute(
        self, asset: str, tag: str, value: Any, writer: str | None, now: float | None = None
    ) -> dict[str, Any]:
        key = (asset, tag)
        base: dict[str, Any] = {
            "type": "command_result",
            "asset": asset,
            "tag": tag,
            "value": value,
            "writer": writer,
        }
        t = time.monotonic() if now is None else now
        try:
            lock = self._check(key, value, writer, t)
        except Refusal as err:
            self.counts["refused"] += 1
            log.info("command %s/%s = %r refused: %s", asset, tag, value, err)
            return {**base, "status": "refused", "ok": False, "reason": err.reason, "error": str(err)}
        target = self.targets[key]
        try:
            readback = await asyncio.wait_for(self._write(target, key, float(value)), self.settings.timeout_s)
        except TimeoutError:
            self.counts["failed"] += 1
            return {
                **base,
                "status": "failed",
                "ok": False,
                "reason": "timeout",
                "error": f"not confirmed within {self.settings.timeout_s:g} s",
            }
        except ConnectorError as err:
            self.counts["failed"] += 1
            return {**base, "status": "failed", "ok": False, "reason": "device", "error": str(err)}
        if readback is None or abs(float(readback) - float(value)) > lock.tolerance:
            self.counts["failed"] += 1
            return {
                **base,
                "status": "failed",
                "ok": False,
                "reason": "readback",
                "readback": readback,
                "error": f"read back {readback!r}, expected {value!r}",
            }
        self._last_write[key] = (t, float(value))
        self.counts["done"] += 1
        return {**base, "status": "done", "ok": True, "readback": readback}

    async def _write(self, target: Target, key: tuple[str, str], value: float) -> Any:
        await target.write_value(key, value)
        return await target.read_value(key)

    def _check(self, key: tuple[str, str], value: Any, writer: str | None, now: float) -> Interlock:
        lock = self.interlocks.get(key)
        if lock is None or key not in self.targets:
            raise Refusal("not_writable", f"{key[0]}/{key[1]} is not a writable setpoint of this agent")
        if lock.writers and writer not in lock.writers:
            raise Refusal("writer_not_allowed", f"writer {writer!r} may not write {key[1]}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise Refusal("bad_value", f"value {value!r} is not a finite number")
        if lock.low is not None and value < lock.low:
            raise Refusal("out_of_limits", f"{value:g} is below the low limit {lock.low:g}")
        if lock.high is not None and value > lock.high:
            raise Refusal("out_of_limits", f"{value:g} is above the high limit {lock.high:g}")
        if lock.mode_tag is not None:
            mode = self.latest(key[0], lock.mode_tag)
            if mode is None:
                raise Refusal("mode", f"machine mode ({lock.mode_tag}) is unknown")
            allowed = {str(m) for m in lock.modes}
            shown = str(int(mode)) if isinstance(mode, float) and mode.is_integer() else str(mode)
            if shown not in allowed:
                raise Refusal(
                    "mode", f"machine mode {shown!r} does not allow writes (allowed: {sorted(allowed)})"
                )
        current = self.latest(*key)
        if (
            lock.max_step is not None
            and isinstance(current, int | float)
            and abs(value - current) > lock.max_step
        ):
            raise Refusal(
                "step_too_large", f"step {abs(value - current):g} from {current:g} exceeds {lock.max_step:g}"
            )
        last = self._last_write.get(key)
        if lock.max_rate_per_s is not None and last is not None:
            dt = max(now - last[0], 1e-9)
            rate = abs(value - last[1]) / dt
            if rate > lock.max_rate_per_s:
                raise Refusal("rate_limit", f"change rate {rate:.3g}/s exceeds {lock.max_rate_per_s:g}/s")
        return lock

    async def _emit(self, asset: str, result: dict[str, Any]) -> None:
        result.setdefault("ts", time.time_ns())
        out = self.publish(asset, result)
        if out is not None:
            await out
