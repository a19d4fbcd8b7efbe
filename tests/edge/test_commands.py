"""Setpoint commands from the platform: interlocks, write, read-back, result (over the real broker)."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt

from shopfloor.edge.agent import EdgeAgent
from shopfloor.edge.config import load_edge_config
from shopfloor.service import Platform

from .conftest import ASSET, wait_for
from .servers import PlcServer, free_port


class Console:
    """The platform side: publishes commands, collects results from the event topic."""

    def __init__(self, port: int) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"console-{uuid.uuid4().hex[:6]}"
        )
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"shopfloor/v1/{ASSET}/event", qos=1)
        self.client.subscribe("shopfloor/v1/edge/+/status", qos=1)
        self.status: dict[str, Any] = {}
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        body = json.loads(msg.payload)
        if msg.topic.endswith("/status"):
            self.status = body
            return
        with self.lock:
            self.results[str(body.get("id"))] = body

    def send(self, value: Any, writer: str = "operator", cid: str | None = None) -> str:
        cid = cid or uuid.uuid4().hex
        body = {"id": cid, "tag": "sp", "value": value, "writer": writer}
        self.client.publish(f"shopfloor/v1/cmd/{ASSET}/set", json.dumps(body), qos=1)
        return cid

    async def result(self, cid: str) -> dict[str, Any]:
        return await wait_for(lambda: self.results.get(cid), timeout=15)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def test_commands_are_checked_written_and_read_back(
    tmp_path: Path, platform: Platform, plc: PlcServer
) -> None:
    metrics_port = free_port()
    cfg = {
        "agent_id": "gw-cmd",
        "uplink": {"port": platform.mqtt_port},
        "buffer": {"path": str(tmp_path / "buffer.db")},
        "health": {"interval_s": 0.2, "metrics_port": metrics_port},
        "commands": {
            "timeout_s": 0.5,
            "interlocks": [
                {
                    "asset": ASSET,
                    "tag": "sp",
                    "low": 0,
                    "high": 100,
                    "max_step": 20,
                    "writers": ["operator"],
                    "mode_tag": "mode",
                    "modes": ["1"],
                    "tolerance": 0.05,
                }
            ],
        },
        "modbus": [
            {
                "name": "plc2",
                "port": plc.port,
                "unit_id": 2,
                "poll_interval_s": 0.05,
                "timeout_s": 2.0,
                "registers": [
                    {
                        "asset": ASSET,
                        "tag": "sp",
                        "address": 0,
                        "type": "int16",
                        "scale": 0.1,
                        "writable": True,
                    },
                    {"asset": ASSET, "tag": "mode", "address": 1, "type": "uint16"},
                ],
            }
        ],
    }
    plc.regs[2][:2] = [100, 0]  # sp = 10.0, mode 0 (manual: writes not allowed)
    agent = EdgeAgent(load_edge_config(overrides=cfg))
    await agent.start()
    assert platform.mqtt_port is not None
    console = Console(platform.mqtt_port)
    try:
        async with asyncio.timeout(90):  # a hang fails here, with the awaiting line in the traceback
            await _scenario(agent, console, plc, metrics_port)
    finally:
        plc.mode[2] = "ok"
        console.close()
        await agent.stop(drain_s=0)


async def _scenario(agent: EdgeAgent, console: Console, plc: PlcServer, metrics_port: int) -> None:
    await wait_for(lambda: agent.uplink.connected.is_set() and agent.latest(ASSET, "mode") == 0)
    await wait_for(lambda: console.client.is_connected())
    r = await console.result(console.send(12.0))
    assert (r["status"], r["reason"]) == ("refused", "mode"), r
    plc.regs[2][1] = 1
    await wait_for(lambda: agent.latest(ASSET, "mode") == 1)

    r = await console.result(console.send(12.0, writer="intruder"))
    assert (r["status"], r["reason"]) == ("refused", "writer_not_allowed")
    r = await console.result(console.send(150.0))
    assert (r["status"], r["reason"]) == ("refused", "out_of_limits")
    assert "above the high limit 100" in r["error"]
    r = await console.result(console.send(45.0))
    assert (r["status"], r["reason"]) == ("refused", "step_too_large")
    r = await console.result(console.send("fast"))
    assert (r["status"], r["reason"]) == ("refused", "bad_value")
    assert plc.regs[2][0] == 100  # nothing refused reached the PLC

    cid = console.send(12.5)
    r = await console.result(cid)
    assert (r["status"], r["ok"], r["readback"]) == ("done", True, 12.5), r
    assert plc.regs[2][0] == 125
    plc.regs[2][0] = 120  # the PLC moves on; a repeated id must not write again
    console.results.pop(cid)
    r = await console.result(console.send(12.5, cid=cid))
    assert r["status"] == "done" and plc.regs[2][0] == 120

    plc.mode[2] = "silent"
    r = await console.result(console.send(13.0))
    assert (r["status"], r["reason"]) == ("failed", "timeout"), r
    assert agent.executor.counts["refused"] == 5 and agent.executor.counts["failed"] == 1

    # health, upstream (retained status topic) and as Prometheus metrics
    status = await wait_for(lambda: console.status.get("commands", {}).get("failed") == 1 and console.status)
    assert status["agent"] == "gw-cmd" and status["connectors"]["uplink"]["state"] == "connected"
    assert status["connectors"]["plc2"]["counters"]["polls"] > 0
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    assert 'shopfloor_edge_state{agent="gw-cmd",name="failed",section="commands"} 1.0' in text
    assert 'shopfloor_edge_connector_up{agent="gw-cmd",connector="uplink",kind="mqtt"} 1.0' in text
