"""Modbus connector: register decoding for every type and order, block grouping, the client."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shopfloor.connectors.modbus.client import ModbusClient, ModbusRefused
from shopfloor.connectors.modbus.config import ModbusDevice, Register
from shopfloor.connectors.modbus.converter import Block, decode, encode, group_blocks
from shopfloor.core.errors import DeviceUnavailable
from tests.edge.servers import PlcServer, free_port

RANGES = {
    "int16": (-32768, 32767),
    "uint16": (0, 65535),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
}
orders = st.sampled_from(["big", "little"])


@given(kind=st.sampled_from(sorted(RANGES)), raw=st.integers(-(2**31), 2**32 - 1), wo=orders, bo=orders)
def test_integer_round_trip(kind: str, raw: int, wo: str, bo: str) -> None:
    lo, hi = RANGES[kind]
    raw = min(max(raw, lo), hi)
    reg = Register(
        asset="m", tag="t", address=0, type=kind, scale=0.5, offset=-3, word_order=wo, byte_order=bo
    )
    value = raw * 0.5 - 3
    assert decode(reg, encode(reg, value)) == value


@given(value=st.floats(-1e30, 1e30, allow_nan=False), wo=orders, bo=orders)
def test_float_round_trip(value: float, wo: str, bo: str) -> None:
    r64 = Register(asset="m", tag="t", address=0, type="float64", word_order=wo, byte_order=bo)
    assert decode(r64, encode(r64, value)) == value
    r32 = Register(asset="m", tag="t", address=0, type="float32", word_order=wo, byte_order=bo)
    assert decode(r32, encode(r32, value)) == pytest.approx(value, rel=1e-6)


def test_known_layouts() -> None:
    # 123456.0 as float32 is 0x47F12000: ABCD big/big, CDAB little words, BADC swapped bytes
    f = {"asset": "m", "tag": "t", "address": 0, "type": "float32"}
    assert decode(Register(**f), [0x47F1, 0x2000]) == 123456.0
    assert decode(Register(**f, word_order="little"), [0x2000, 0x47F1]) == 123456.0
    assert decode(Register(**f, byte_order="little"), [0xF147, 0x0020]) == 123456.0
    with pytest.raises(ValueError, match="does not fit int16"):
        encode(Register(asset="m", tag="t", address=0, type="int16"), 40000)
    with pytest.raises(ValueError, match="not finite"):
        encode(Register(asset="m", tag="t", address=0, type="float32"), float("nan"))


def test_blocks_respect_gap_size_and_tables() -> None:
    regs = [Register(asset="m", tag=f"h{a}", address=a, type="float32") for a in (0, 2, 4, 20, 200)]
    regs += [Register(asset="m", tag="i0", address=0, type="uint16", table="input")]
    blocks = group_blocks(regs, max_block=10, max_gap=4)
    assert [(b.table, b.start, b.count) for b in blocks] == [
        ("holding", 0, 6),
        ("holding", 20, 2),
        ("holding", 200, 2),
        ("input", 0, 1),
    ]
    assert sum(len(b.registers) for b in blocks) == len(regs)
    one = group_blocks([Register(asset="m", tag=f"x{a}", address=a) for a in range(300)], max_block=125)
    assert [b.count for b in one] == [125, 125, 50]


def test_config_errors_name_the_problem() -> None:
    with pytest.raises(ValidationError, match="mapped twice"):
        ModbusDevice(name="d", registers=[Register(asset="m", tag="t", address=0)] * 2)
    with pytest.raises(ValidationError, match="type"):
        Register(asset="m", tag="t", address=0, type="int64")  # type: ignore[arg-type]


async def test_client_reads_writes_and_translates_errors() -> None:
    plc = PlcServer({1: 16})
    await plc.start()
    plc.regs[1][:4] = [0x47F1, 0x2000, 7, 65535]
    client = ModbusClient(ModbusDevice(name="d", port=plc.port, unit_id=1, timeout_s=0.5))
    try:
        await client.connect()
        assert await client.read(Block("holding", 0, 4, ())) == [0x47F1, 0x2000, 7, 65535]
        await client.write(8, [1, 2])
        await client.write(10, [3])
        assert plc.regs[1][8:11] == [1, 2, 3]
        plc.mode[1] = "exception"
        with pytest.raises(ModbusRefused, match=r"exception 0x04 \(device failure\)") as err:
            await client.read(Block("holding", 0, 1, ()))
        assert err.value.code == 4
    finally:
        await client.close()
        await plc.stop()
    with pytest.raises(DeviceUnavailable, match="cannot connect"):
        await ModbusClient(ModbusDevice(name="d", port=free_port(), timeout_s=0.3)).connect()
