"""Real protocol servers on loopback ports for the edge tests and benchmark helpers.

* :class:`PlcServer`: a pymodbus Modbus TCP server; ``regs[unit]`` is each unit's holding
  register image (the test writes it; client writes land in it), ``mode[unit]`` makes a unit
  answer with an exception response (``"exception"``) or not at all (``"silent"``).
* :class:`Proxy`: a TCP relay that can be cut and restored, standing in for an uplink outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PlcServer:
    def __init__(self, units: dict[int, int], port: int | None = None) -> None:
        self.regs: dict[int, list[int]] = {u: [0] * n for u, n in units.items()}
        self.mode: dict[int, str] = {u: "ok" for u in units}
        self.port = port or free_port()
        self.server: ModbusTcpServer | None = None
        self.reads = 0

    async def start(self) -> None:
        devices = [
            SimDevice(
                u,
                simdata=[SimData(0, count=len(r), values=0, datatype=DataType.REGISTERS)],
                action=functools.partial(self._action, u),
            )
            for u, r in self.regs.items()
        ]
        self.server = ModbusTcpServer(devices, address=("127.0.0.1", self.port))
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    async def _action(
        self,
        unit: int,
        fc: int,
        start: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        mode = self.mode[unit]
        if mode == "exception":
            return ExcCodes.DEVICE_FAILURE
        if mode == "silent":
            await asyncio.sleep(30)
        image = self.regs[unit]
        if set_values:
            image[address : address + len(set_values)] = [int(v) for v in set_values]
        registers[: len(image)] = image
        self.reads += 1
        return None


class Proxy:
    """Relays 127.0.0.1:<port> to ``target``; ``cut()`` closes every connection and refuses new ones."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._conns):
            w.close()
        self._conns.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._conns |= {writer, up_w}

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            w.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))
        self._conns -= {writer, up_w}
