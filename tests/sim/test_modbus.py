"""The simulated PLCs over Modbus TCP, read and written with a real pymodbus client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient

from shopfloor.sim import Simulation
from shopfloor.sim.modbus import ModbusEndpoint
from shopfloor.sim.registers import Point, modbus_map

ILLEGAL_ADDRESS, ILLEGAL_VALUE, GATEWAY_NO_RESPONSE = 2, 3, 0x0B


@pytest.fixture
async def plc(make_sim) -> AsyncIterator[tuple[Simulation, ModbusEndpoint, AsyncModbusTcpClient]]:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=20, sensor_faults=False, waveform_samples=1024)
    ep = ModbusEndpoint(sim)
    port = await ep.start()
    ep.update(sim.step(1.0))
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    assert await client.connect()
    try:
        yield sim, ep, client
    finally:
        client.close()
        await ep.stop()


async def test_read_every_endpoint(plc) -> None:  # type: ignore[no-untyped-def]
    sim, ep, client = plc
    last = sim.step(1.0)
    ep.update(last)
    current = {(s.asset, s.tag): s.value for s in last}
    assert len(ep.map) == len(sim.machines)
    for unit, points in ep.map.items():
        size = sum(p.width for p in points)
        for fc in ("read_holding_registers", "read_input_registers"):
            rr = await getattr(client, fc)(0, count=size, device_id=unit)
            assert not rr.isError(), (unit, rr)
            for p in points:
                value = p.decode(rr.registers[p.address : p.address + p.width])
                want = current[(p.asset, p.tag)]
                if isinstance(want, float):
                    tol = 0.051 if p.dtype == "int16" else abs(want) * 1e-6 + 1e-6
                    assert value == pytest.approx(want, abs=tol), (p, value, want)
                else:
                    assert value == want, (p, value, want)


async def test_write_every_setpoint(plc) -> None:  # type: ignore[no-untyped-def]
    sim, ep, client = plc
    for unit, points in ep.map.items():
        for p in [p for p in points if p.writable]:
            if p.tag == "blade_change":
                value: object = True
            else:
                assert p.low is not None and p.high is not None
                value = round(p.low + 0.25 * (p.high - p.low), 1)
            rr = await client.write_registers(p.address, p.encode(value), device_id=unit)
            assert not rr.isError(), (p, rr)
            if p.tag != "blade_change":
                assert sim.setpoint(p.asset, p.tag) == pytest.approx(value)
                back = await client.read_holding_registers(p.address, count=p.width, device_id=unit)
                assert p.decode(back.registers) == pytest.approx(value, abs=0.05)


def _point(ep: ModbusEndpoint, asset: str, tag: str) -> Point:
    return ep.by_tag[(asset, tag)]


async def test_refusals_are_exception_codes(plc) -> None:  # type: ignore[no-untyped-def]
    sim, ep, client = plc
    sp = _point(ep, "riverside/converting/line1/calender", "nip_pressure_sp")
    before = sim.setpoint(sp.asset, sp.tag)
    rr = await client.write_registers(sp.address, sp.encode(900.0), device_id=sp.unit)
    assert rr.isError() and rr.exception_code == ILLEGAL_VALUE
    assert sim.setpoint(sp.asset, sp.tag) == before  # refused, not clamped
    rr = await client.write_registers(sp.address, sp.encode(float("nan")), device_id=sp.unit)
    assert rr.isError() and rr.exception_code == ILLEGAL_VALUE
    ro = _point(ep, "riverside/converting/line1/calender", "thickness")
    rr = await client.write_registers(ro.address, ro.encode(100.0), device_id=ro.unit)
    assert rr.isError() and rr.exception_code == ILLEGAL_ADDRESS
    rr = await client.write_register(sp.address, 1, device_id=sp.unit)  # half of a float32
    assert rr.isError() and rr.exception_code == ILLEGAL_ADDRESS
    temp = _point(ep, "riverside/converting/line1/calender", "roll_temp_sp")  # int16, scale 10
    rr = await client.write_register(temp.address, temp.encode(150.0)[0], device_id=temp.unit)
    assert not rr.isError() and sim.setpoint(temp.asset, temp.tag) == 150.0
    rr = await client.write_register(temp.address, temp.encode(10.0)[0], device_id=temp.unit)
    assert rr.isError() and rr.exception_code == ILLEGAL_VALUE
    rr = await client.read_holding_registers(500, count=2, device_id=sp.unit)  # unmapped
    assert rr.isError() and rr.exception_code == ILLEGAL_ADDRESS
    rr = await client.read_holding_registers(0, count=2, device_id=99)  # no such machine
    assert rr.isError() and rr.exception_code == GATEWAY_NO_RESPONSE


def test_map_is_stable_and_documented(make_sim) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from shopfloor.sim.registers import render_markdown

    sim = make_sim(seed=0)
    units = modbus_map(sim)
    assert sorted(units) == list(range(1, 13))
    doc = Path(__file__).parents[2] / "docs" / "sim.md"
    assert render_markdown(sim) in doc.read_text(encoding="utf-8")
