"""examples/edge.toml against the simulated plant's own Modbus and OPC UA endpoints."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from shopfloor.broker.embedded import EmbeddedBroker
from shopfloor.core.assets import Plant
from shopfloor.edge.agent import EdgeAgent
from shopfloor.edge.config import load_edge_config
from shopfloor.sim.modbus import ModbusEndpoint
from shopfloor.sim.opcua import OpcUaEndpoint
from shopfloor.sim.simulation import DEFAULT_PLANT, Simulation

from .conftest import wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "edge.toml"
CUTTER = "riverside/converting/line1/cutter"


async def test_example_config_reads_and_writes_the_simulated_plcs(tmp_path: Path) -> None:
    sim = Simulation(Plant.load(DEFAULT_PLANT))
    modbus, opcua = ModbusEndpoint(sim, port=0), OpcUaEndpoint(sim, port=0)
    await modbus.start()
    await opcua.start()
    broker = EmbeddedBroker("127.0.0.1", 0)
    await broker.start()

    async def run_plant() -> None:
        while True:
            samples = sim.step(0.1)
            modbus.update(samples)
            await opcua.update(samples)
            await asyncio.sleep(0.1)

    plant = asyncio.create_task(run_plant())
    cfg = load_edge_config(EXAMPLE)
    cfg.modbus[0].port = modbus.port
    cfg.opcua[0].url = opcua.url
    cfg.uplink.port = broker.port
    cfg.buffer.path = tmp_path / "buffer.db"
    cfg.health.metrics_port = None
    agent = EdgeAgent(cfg)
    await agent.start()
    try:
        await wait_for(lambda: agent.latest(CUTTER, "cutting_force") is not None)
        await wait_for(lambda: agent.latest(CUTTER, "vib_rms") is not None)  # over OPC UA
        assert agent.health.connectors["cutter-plc"].state == "connected"
        assert agent.health.connectors["line1-opc"].state == "connected"
        current = agent.latest(CUTTER, "cut_rate_sp")
        target = round(min(current + 5, 120.0), 1)
        result = await agent.executor.execute(CUTTER, "cut_rate_sp", target, "operator")
        assert result["status"] == "done", result
        assert sim.setpoint(CUTTER, "cut_rate_sp") == target  # the simulated PLC took it
        refused = await agent.executor.execute(CUTTER, "cut_rate_sp", 5.0, "operator")
        assert refused["reason"] == "out_of_limits"
    finally:
        plant.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await plant
        await agent.stop(drain_s=1)
        await broker.stop()
        await opcua.stop()
        await modbus.stop()
