"""One coordinator per Modbus device: polls its grouped register blocks on a fixed period.

A failure (no connection, timeout, or an exception response) marks the device unavailable,
is logged once per outage (the next success logs the recovery), and the device is retried
with doubling backoff (``backoff_min_s`` .. ``backoff_max_s``). Each device has its own task
and its own connection, so one failing device never delays another.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from ..connectors.modbus.client import ModbusClient
from ..connectors.modbus.config import ModbusDevice, Register
from ..connectors.modbus.converter import Block, encode, group_blocks, slice_block
from ..core.errors import ConnectorError, ProtocolError
from .health import ConnectorHealth

log = logging.getLogger(__name__)

Submit = Callable[[list[tuple[str, str, int, object, int]]], None]


class ModbusPoller:
    """Polls one device; ``await start()``, ``await stop()``; ``write`` for commands."""

    def __init__(self, device: ModbusDevice, submit: Submit, health: ConnectorHealth) -> None:
        self.device = device
        self.submit = submit
        self.health = health
        self.client = ModbusClient(device)
        self.blocks: list[Block] = group_blocks(device.registers, device.max_block, device.max_gap)
        self.by_key: dict[tuple[str, str], Register] = {r.key: r for r in device.registers}
        self._task: asyncio.Task[None] | None = None
        self._io = asyncio.Lock()
        self.polls = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"modbus-{self.device.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.client.close()

    async def _run(self) -> None:
        d = self.device
        delay = d.backoff_min_s
        logged = False
        next_at = time.monotonic()
        while True:
            try:
                async with self._io:
                    if not self.client.connected:
                        await self.client.connect()
                    await self._poll()
            except ConnectorError as err:
                self.health.fail(str(err))
                await self.client.close()
                if not logged:
                    log.warning("Modbus device %s unavailable: %s (retrying with backoff)", d.name, err)
                    logged = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, d.backoff_max_s)
                next_at = time.monotonic()
                continue
            if logged:
                log.info("Modbus device %s is available again", d.name)
                logged = False
            delay = d.backoff_min_s
            self.health.ok()
            next_at += d.poll_interval_s
            now = time.monotonic()
            if next_at < now:  # overran: skip the missed ticks, count them
                missed = math.ceil((now - next_at) / d.poll_interval_s)
                self.health.count("overruns", missed)
                next_at += missed * d.poll_interval_s
            await asyncio.sleep(next_at - now)

    async def _poll(self) -> None:
        rows: list[tuple[str, str, int, object, int]] = []
        for block in self.blocks:
            words = await self.client.read(block)
            ts = time.time_ns()
            for reg, value, error in slice_block(block, words):
                if error is not None or value is None or not math.isfinite(value):
                    self.health.count("bad_values")  # NaN/inf or undecodable: counted, not sent
                    continue
                rows.append((reg.asset, reg.tag, ts, value, 192))
        self.polls += 1
        self.health.count("polls")
        self.health.count("values", len(rows))
        self.submit(rows)

    # -- commands -----------------------------------------------------------------------------

    async def read_value(self, key: tuple[str, str]) -> float:
        reg = self._register(key)
        block = Block(reg.table, reg.address, reg.width, (reg,))
        async with self._io:
            if not self.client.connected:
                await self.client.connect()
            words = await self.client.read(block)
        ((_, value, error),) = slice_block(block, words)
        if value is None:
            raise ProtocolError(f"{self.device.name}: {key[0]}/{key[1]}: {error}")
        return value

    async def write_value(self, key: tuple[str, str], value: float) -> None:
        reg = self._register(key)
        if reg.table != "holding":
            raise ProtocolError(f"{self.device.name}: {key[0]}/{key[1]} is an input register")
        try:
            words = encode(reg, float(value))
        except ValueError as err:
            raise ProtocolError(str(err)) from err
        async with self._io:
            if not self.client.connected:
                await self.client.connect()
            await self.client.write(reg.address, words)

    def _register(self, key: tuple[str, str]) -> Register:
        reg = self.by_key.get(key)
        if reg is None:
            raise ProtocolError(f"{self.device.name}: {key[0]}/{key[1]} is not in the register map")
        return reg
