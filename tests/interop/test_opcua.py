"""The OPC UA plant server, browsed and read by a real asyncua client."""

from __future__ import annotations

import pytest
from asyncua import Client, ua

from shopfloor.core.assets import Plant
from shopfloor.core.sample import Quality, Sample
from shopfloor.interop.opcua import NAMESPACE, PlantServer
from shopfloor.sim.simulation import DEFAULT_PLANT

WRAPPER = "riverside/packaging/pack1/wrapper"


async def test_browse_read_and_refused_write() -> None:
    plant = Plant.load(DEFAULT_PLANT)
    server = PlantServer(plant)
    await server.start()
    try:
        ts = 1_700_000_000_000_000_000
        n = await server.update(
            [
                Sample(WRAPPER, "power", ts, 12.5),
                Sample(WRAPPER, "state", ts, "running"),
                Sample(WRAPPER, "good_count", ts, 42),
                Sample(WRAPPER, "cycle_time", ts, 0.6, Quality.UNCERTAIN),
                Sample(WRAPPER, "nope", ts, 1.0),  # unknown tag: skipped, counted
                Sample(WRAPPER, "good_count", ts, "many"),  # wrong type: skipped, counted
            ]
        )
        assert n == 4 and server.skipped == 2
        async with Client(server.url) as client:
            ns = await client.get_namespace_index(NAMESPACE)
            plant_node = client.get_node(ua.NodeId("plant", ns))
            sites = await plant_node.get_children()
            names = {(await c.read_browse_name()).Name for c in sites}
            assert names == {"riverside"}
            # browse the path down by browse names, as a SCADA client would
            node = plant_node
            for seg in WRAPPER.split("/"):
                node = await node.get_child(f"{ns}:{seg}")
            children = {(await c.read_browse_name()).Name for c in await node.get_children()}
            assert {"power", "state", "good_count", "Kind", "ideal_cycle_s"} <= children
            power = await node.get_child(f"{ns}:power")
            assert await power.read_value() == 12.5
            unit = await power.get_child(f"{ns}:Unit")
            assert await unit.read_value() == "kW"
            state = client.get_node(ua.NodeId(f"{WRAPPER}/state", ns))
            assert await state.read_value() == "running"
            dv = await client.get_node(ua.NodeId(f"{WRAPPER}/cycle_time", ns)).read_data_value(
                raise_on_bad_status=False
            )
            assert dv.StatusCode.is_uncertain()
            never = await client.get_node(ua.NodeId(f"{WRAPPER}/energy", ns)).read_data_value(
                raise_on_bad_status=False
            )
            assert never.StatusCode.value == ua.StatusCodes.UncertainInitialValue  # no sample yet
            kind = await node.get_child(f"{ns}:Kind")
            assert await kind.read_value() == "packaging"
            with pytest.raises(ua.UaStatusCodeError):
                await power.write_value(ua.DataValue(ua.Variant(99.0, ua.VariantType.Double)))
            assert await power.read_value() == 12.5
    finally:
        await server.stop()
