"""Local MQTT sensors through the agent to the platform; the CLI command and config errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from typer.testing import CliRunner

from shopfloor.broker.embedded import EmbeddedBroker
from shopfloor.core.errors import ConfigError
from shopfloor.edge.agent import EdgeAgent
from shopfloor.edge.config import load_edge_config
from shopfloor.service import Platform

from .conftest import ASSET, stored, wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "edge.toml"


async def test_local_mqtt_sensors_are_forwarded(tmp_path: Path, platform: Platform) -> None:
    local = EmbeddedBroker("127.0.0.1", 0)
    await local.start()
    cfg = {
        "agent_id": "gw-sensors",
        "uplink": {"port": platform.mqtt_port},
        "buffer": {"path": str(tmp_path / "buffer.db")},
        "mqtt": {"port": local.port, "topics": ["shopfloor/v1/#"]},
        "compression": {"method": "deadband", "deviation": 0.5},
    }
    agent = EdgeAgent(load_edge_config(overrides=cfg))
    await agent.start()
    try:
        await wait_for(lambda: agent.uplink.connected.is_set())
        await wait_for(lambda: agent.health.connectors["sensors"].state == "connected")

        def publish() -> None:  # in a thread: the brokers share this event loop
            pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            pub.connect("127.0.0.1", local.port)
            pub.loop_start()
            base = 1_700_000_000_000
            for i, v in enumerate([1.0, 1.2, 1.4, 3.0]):  # deadband 0.5 keeps 1.0 and 3.0
                body = f'{{"ts": {base + i}, "values": {{"t3": {v}}}}}'
                pub.publish(f"shopfloor/v1/{ASSET}/data", body, qos=1)
            pub.publish(f"shopfloor/v1/{ASSET}/data", b"{broken", qos=1).wait_for_publish(5)
            pub.loop_stop()
            pub.disconnect()

        await asyncio.to_thread(publish)
        await wait_for(lambda: agent.offered == 4)
        await wait_for(lambda: agent.health.counters.get("sensor_rejected") == 1)
    finally:
        await agent.stop(drain_s=5)
        await local.stop()
    rows = await wait_for(lambda: _n(platform, 2))
    assert [s.value for s in rows] == [1.0, 3.0]
    assert [s.ts for s in rows] == [1_700_000_000_000_000_000, 1_700_000_000_003_000_000]  # original times
    assert agent.health.snapshot()["compression"]["ratio"] == 2.0


async def _n(platform: Platform, n: int) -> list | None:
    rows = await stored(platform, "t3")
    return rows if len(rows) >= n else None


def test_cli_checks_the_example_config() -> None:
    import typer

    from shopfloor.edge.cli import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["edge", "--config", str(EXAMPLE), "--check"])
    assert result.exit_code == 0, result.output
    assert "ok: agent" in result.output


def test_config_errors_name_the_setting(tmp_path: Path) -> None:
    bad = tmp_path / "edge.toml"
    bad.write_text('agent_id = "gw"\n[buffer]\nfsync = "sometimes"\n')
    with pytest.raises(ConfigError, match=r"edge setting buffer\.fsync"):
        load_edge_config(bad)
    bad.write_text('[[modbus]]\nname = "a"\n[[modbus]]\nname = "a"\n')
    with pytest.raises(ConfigError, match="repeated"):
        load_edge_config(bad)
    with pytest.raises(ConfigError, match="not valid TOML"):
        bad.write_text("agent_id = ")
        load_edge_config(bad)
