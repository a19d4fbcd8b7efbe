"""Modbus TCP client of one device (the only module importing pymodbus).

pymodbus errors are translated at this boundary: no connection or a timeout becomes
:class:`~shopfloor.core.errors.DeviceUnavailable`; an exception response from the device
(illegal address, illegal value, gateway target failed, ...) becomes :class:`ModbusRefused`
with the exception code. Reconnecting and backing off are the coordinator's job
(:mod:`shopfloor.edge.modbus`), so the client never retries on its own.
"""

from __future__ import annotations

import asyncio
import logging

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from ...core.errors import DeviceUnavailable, ProtocolError
from .config import ModbusDevice
from .converter import Block

log = logging.getLogger(__name__)
for _name in ("pymodbus", "pymodbus.logging"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class ModbusRefused(ProtocolError):
    """The device answered with a Modbus exception response."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class ModbusClient:
    """Reads blocks from and writes registers to one device; ``await connect()`` first."""

    def __init__(self, device: ModbusDevice) -> None:
        self.device = device
        self._client: AsyncModbusTcpClient | None = None
        self.where = f"modbus://{device.host}:{device.port}/{device.unit_id}"

    async def connect(self) -> None:
        await self.close()
        d = self.device
        client = AsyncModbusTcpClient(
            d.host, port=d.port, timeout=d.timeout_s, retries=0, reconnect_delay=0, reconnect_delay_max=0
        )
        try:
            ok = await asyncio.wait_for(client.connect(), d.timeout_s + 0.5)
        except (TimeoutError, OSError, ModbusException) as err:
            client.close()
            raise DeviceUnavailable(f"{self.where}: cannot connect: {err or 'timeout'}") from err
        if not ok:
            client.close()
            raise DeviceUnavailable(f"{self.where}: cannot connect")
        self._client = client

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.connected)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def read(self, block: Block) -> list[int]:
        """The registers of one block (FC 3 or FC 4)."""
        client = self._live()
        d = self.device
        call = client.read_holding_registers if block.table == "holding" else client.read_input_registers
        what = f"read {block.table} {block.start}+{block.count}"
        try:
            rr = await asyncio.wait_for(
                call(block.start, count=block.count, device_id=d.unit_id), d.timeout_s + 0.5
            )
        except (TimeoutError, ModbusException, OSError) as err:
            await self.close()
            raise DeviceUnavailable(f"{self.where}: {what}: {self._why(err)}") from err
        self._check(rr, what)
        regs = list(rr.registers)
        if len(regs) < block.count:
            raise ProtocolError(f"{self.where}: {what}: got {len(regs)} registers")
        return regs[: block.count]

    async def write(self, address: int, words: list[int]) -> None:
        """Write registers (FC 6 for one, FC 16 for several)."""
        client = self._live()
        d = self.device
        what = f"write {address}+{len(words)}"
        try:
            if len(words) == 1:
                coro = client.write_register(address, words[0], device_id=d.unit_id)
            else:
                coro = client.write_registers(address, words, device_id=d.unit_id)
            rr = await asyncio.wait_for(coro, d.timeout_s + 0.5)
        except (TimeoutError, ModbusException, OSError) as err:
            await self.close()
            raise DeviceUnavailable(f"{self.where}: {what}: {self._why(err)}") from err
        self._check(rr, what)

    def _why(self, err: BaseException) -> str:
        if isinstance(err, TimeoutError) or "No response" in str(err):
            return f"timeout (no response within {self.device.timeout_s:g} s)"
        return str(err) or type(err).__name__

    def _live(self) -> AsyncModbusTcpClient:
        if self._client is None or not self._client.connected:
            raise DeviceUnavailable(f"{self.where}: not connected")
        return self._client

    def _check(self, rr: object, what: str) -> None:
        if getattr(rr, "isError", lambda: False)():
            code = int(getattr(rr, "exception_code", 0) or 0)
            name = EXCEPTION_NAMES.get(code, "exception")
            raise ModbusRefused(f"{self.where}: {what}: exception {code:#04x} ({name})", code)
