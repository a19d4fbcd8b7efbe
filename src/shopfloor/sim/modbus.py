"""The simulated PLCs as a real Modbus TCP server (pymodbus 3.16 SimDevice API).

One server on a loopback port hosts every machine as a Modbus device (unit id from the
register map in :mod:`shopfloor.sim.registers`). Reads return the latest simulated values;
writes go through :meth:`Simulation.check_write` first and are refused like a PLC refuses them:

* exception 0x02 (illegal data address): read-only point, unmapped address, or a write that
  covers only part of a multi-register value;
* exception 0x03 (illegal data value): out of the tag's engineering range, or not a valid
  value of its type (NaN, unknown enumeration index);
* exception 0x0B (gateway target device failed to respond): a unit id with no machine.
"""

from __future__ import annotations

import functools
import logging

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ..core.errors import BrokerError
from ..core.sample import Sample, Value
from .registers import Point, modbus_map
from .simulation import Simulation, WriteRefused

log = logging.getLogger(__name__)


class ModbusEndpoint:
    """A Modbus TCP server that serves a :class:`Simulation` (start/stop inside a running loop)."""

    def __init__(self, sim: Simulation, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim = sim
        self.host = host
        self.port = port
        self.map = modbus_map(sim)
        self.by_tag: dict[tuple[str, str], Point] = {}
        self.shadow: dict[int, list[int]] = {}
        for unit, points in self.map.items():
            size = sum(p.width for p in points)
            self.shadow[unit] = [0] * size
            for p in points:
                self.by_tag[(p.asset, p.tag)] = p
        self.server: ModbusTcpServer | None = None

    async def start(self) -> int:
        """Start listening; returns the bound port."""
        devices = [
            SimDevice(
                unit,
                simdata=[SimData(0, count=max(len(regs), 1), values=0, datatype=DataType.REGISTERS)],
                action=functools.partial(self._action, unit),
            )
            for unit, regs in self.shadow.items()
        ]
        # unit 0 catches every other unit id: answered like a gateway whose target is absent
        devices.append(
            SimDevice(0, simdata=[SimData(0, count=65535, datatype=DataType.REGISTERS)], action=_no_device)
        )
        self.server = ModbusTcpServer(devices, address=(self.host, self.port))
        try:
            await self.server.serve_forever(background=True)
        except RuntimeError as err:
            raise BrokerError(f"cannot start Modbus server on {self.host}:{self.port}: {err}") from err
        sockets = getattr(self.server.transport, "sockets", None)
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("simulated PLCs on modbus://%s:%d (units %s)", self.host, self.port, sorted(self.map))
        return self.port

    async def stop(self) -> None:
        """Stop the server and close client connections."""
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    def update(self, samples: list[Sample]) -> None:
        """Copy the newest samples into the register images."""
        for s in samples:
            p = self.by_tag.get((s.asset, s.tag))
            if p is not None:
                self.shadow[p.unit][p.address : p.address + p.width] = p.encode(s.value)

    def _points_for(self, unit: int, address: int, count: int) -> list[Point] | None:
        """Points exactly covered by [address, address+count), or None if any is split."""
        end = address + count
        hit = [p for p in self.map[unit] if p.address < end and p.address + p.width > address]
        if not hit or any(p.address < address or p.address + p.width > end for p in hit):
            return None
        covered = sum(p.width for p in hit)
        return hit if covered == count else None

    async def _action(
        self,
        unit: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        shadow = self.shadow[unit]
        if not set_values:
            registers[: len(shadow)] = shadow  # registers[0] is start_address (0)
            return None
        points = self._points_for(unit, address, count)
        if points is None:
            log.info("modbus unit %d: write to %d+%d does not match whole points", unit, address, count)
            return ExcCodes.ILLEGAL_ADDRESS
        values = [int(v) for v in set_values]
        decoded: list[tuple[Point, Value]] = []
        for p in points:
            if not p.writable:
                log.info("modbus unit %d: refused write to read-only %s/%s", unit, p.asset, p.tag)
                return ExcCodes.ILLEGAL_ADDRESS
            off = p.address - address
            value = p.decode(values[off : off + p.width])
            try:
                decoded.append((p, self.sim.check_write(p.asset, p.tag, value)))
            except WriteRefused as err:
                log.info("modbus unit %d: refused %s", unit, err)
                return (
                    ExcCodes.ILLEGAL_ADDRESS
                    if err.reason in ("read_only", "unknown_tag")
                    else ExcCodes.ILLEGAL_VALUE
                )
        for p, value in decoded:
            self.sim.write(p.asset, p.tag, value)
            shadow[p.address : p.address + p.width] = p.encode(value)
        return None


async def _no_device(*_args: object) -> ExcCodes:
    """Action of the catch-all unit: no such machine behind this gateway."""
    return ExcCodes.GATEWAY_NO_RESPONSE
