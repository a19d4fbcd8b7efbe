"""System alarms: a refused MQTT client (a security event) and broker drops become ISA-18.2 alarms
on the site asset, through the platform's built-in rules."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from shopfloor.core.assets import Plant
from shopfloor.core.settings import load_settings
from shopfloor.service import Platform, run_platform

PLANT = {
    "plant": {"enterprise": "acme"},
    "asset": [{"path": "mill/line/m1/press", "tag": [{"name": "force"}]}],
}


async def _alarm(p: Platform, rule_id: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for a in p.rules.alarms():
            if a["rule_id"] == rule_id and a["active"]:
                return a
        await asyncio.sleep(0.2)
    raise AssertionError(f"no active {rule_id} alarm; alarms: {p.rules.alarms()}")


async def test_security_event_and_broker_drops_raise_alarms(tmp_path: Path) -> None:
    settings = load_settings(
        overrides={
            "data_dir": tmp_path / "data",
            "api": {"port": 0},
            "mqtt": {"port": 0},
            "security": {"profile": "secure"},
        }
    )
    p = Platform(settings, plant=Plant.from_dict(PLANT))
    stop = asyncio.Event()
    task = asyncio.create_task(run_platform(p, stop=stop))
    try:
        for _ in range(400):
            if p.http_port or task.done():
                break
            await asyncio.sleep(0.05)
        assert p.mqtt_port
        intruder = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="intruder")
        intruder.username_pw_set("nobody", "guess")
        intruder.connect("127.0.0.1", p.mqtt_port)
        intruder.loop_start()
        alarm = await _alarm(p, "system_security_events")
        intruder.loop_stop()
        assert alarm["asset"] == "mill" and alarm["priority"] == "high"
        assert "security events" in alarm["message"]
        p.system_tags.note_broker_drop(42)  # what the external broker's $SYS counter reports
        alarm = await _alarm(p, "system_broker_drops")
        assert "dropped 42 messages" in alarm["message"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
