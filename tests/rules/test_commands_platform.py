"""The Platform wires the command service and the notifier: a setpoint submitted to the running
platform reaches the simulated plant's PLC over OPC UA, as in ``shopfloor demo``."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.core.settings import load_settings
from shopfloor.service import Platform
from shopfloor.sim import Simulation
from shopfloor.sim.opcua import OpcUaEndpoint

PUMP = "riverside/papermaking/pm1/stock_pump"


async def test_platform_writes_setpoints_to_the_simulated_plc(tmp_path: Path) -> None:
    settings = load_settings(
        overrides={"data_dir": str(tmp_path), "mqtt": {"port": 0}, "security": {"profile": "demo"}}
    )
    platform = Platform(settings)
    sim = Simulation(platform.plant, seed=2, sensor_faults=False, waveform_samples=256)
    sim.step(1.0)
    plc = OpcUaEndpoint(sim)
    await plc.start()
    platform.settings.commands.opcua_url = plc.url  # the demo's PLC is on 4840; here a free port
    await platform.start()
    try:
        out = await platform.commands.submit(PUMP, "speed_sp", 1234.0, "olga", "demo")
        assert out["state"] == "confirmed", out
        assert sim.setpoint(PUMP, "speed_sp") == pytest.approx(1234.0)
        health = await platform.health()
        assert health["commands"]["counts"]["confirmed"] == 1
        assert health["notify"]["sent"] == 0
        await platform.commands.flush_audit()  # the security audit chain has every transition
        actions = [
            r["action"]
            for r in reversed(platform.audit.records(limit=20))
            if r["action"].startswith("command.")
        ]
        assert actions == ["command.requested", "command.approved", "command.sent", "command.confirmed"]
    finally:
        await platform.stop()
        await plc.stop()
