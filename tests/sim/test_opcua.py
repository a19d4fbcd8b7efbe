"""The simulated PLCs over OPC UA, read and written with a real asyncua client."""

from __future__ import annotations

import pytest
from asyncua import Client, ua

from shopfloor.sim import Simulation
from shopfloor.sim.opcua import OpcUaEndpoint
from shopfloor.sim.registers import OPCUA_NAMESPACE, node_id

PYTYPE = {"float": float, "int": int, "bool": bool, "str": str}


async def test_read_write_and_refuse(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=21, sensor_faults=False, waveform_samples=1024)
    ep = OpcUaEndpoint(sim)
    await ep.start()
    try:
        last = sim.step(1.0)
        await ep.update(last)
        current = {(s.asset, s.tag): s.value for s in last}
        async with Client(ep.url, timeout=10) as client:
            ns = await client.get_namespace_index(OPCUA_NAMESPACE)
            # read every node in one request
            keys = [(a.path, t.name) for a, t in sim.plant.tags()]
            nodes = [client.get_node(ua.NodeId(node_id(*k), ns)) for k in keys]
            values = await client.read_values(nodes)
            for k, v in zip(keys, values, strict=True):
                want = current[k]
                assert type(v) is PYTYPE[sim.plant.tag(*k).type], k
                assert v == (pytest.approx(want) if isinstance(want, float) else want), k
            # browse path: Objects/riverside/converting/line1/calender/thickness
            objects = client.nodes.objects
            thick = await objects.get_child(
                [f"{ns}:{seg}" for seg in ("riverside", "converting", "line1", "calender", "thickness")]
            )
            assert thick.nodeid == ua.NodeId(node_id("riverside/converting/line1/calender", "thickness"), ns)
            # write every setpoint
            for asset, tag in [(a.path, t.name) for a, t in sim.plant.tags() if t.writable]:
                spec = sim.plant.tag(asset, tag)
                node = client.get_node(ua.NodeId(node_id(asset, tag), ns))
                if spec.type == "bool":
                    value: object = True
                    variant = ua.Variant(True, ua.VariantType.Boolean)
                else:
                    assert spec.low is not None and spec.high is not None
                    value = spec.low + 0.75 * (spec.high - spec.low)
                    variant = ua.Variant(value, ua.VariantType.Double)
                await node.write_value(ua.DataValue(variant))
                if tag != "blade_change":
                    assert sim.setpoint(asset, tag) == pytest.approx(value)
            # refusals: status codes, value unchanged
            sp = client.get_node(ua.NodeId(node_id("riverside/papermaking/pm1/stock_pump", "speed_sp"), ns))
            before = sim.setpoint("riverside/papermaking/pm1/stock_pump", "speed_sp")
            with pytest.raises(ua.UaStatusCodeError) as err:
                await sp.write_value(ua.DataValue(ua.Variant(5000.0, ua.VariantType.Double)))
            assert err.value.code == ua.StatusCodes.BadOutOfRange
            assert sim.setpoint("riverside/papermaking/pm1/stock_pump", "speed_sp") == before
            with pytest.raises(ua.UaStatusCodeError) as err:
                await thick.write_value(ua.DataValue(ua.Variant(1.0, ua.VariantType.Double)))
            assert err.value.code == ua.StatusCodes.BadNotWritable
            with pytest.raises(ua.UaStatusCodeError) as err:
                await sp.write_value(ua.DataValue(ua.Variant("fast", ua.VariantType.String)))
            assert err.value.code == ua.StatusCodes.BadTypeMismatch
    finally:
        await ep.stop()
