"""Ingest from an external MQTT broker (the Mosquitto running on this machine)."""

import asyncio
import contextlib
import os
import socket
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from shopfloor.core.assets import Plant
from shopfloor.core.settings import load_settings
from shopfloor.service import Platform

from .conftest import PLANT, serving


def _mosquitto_up() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 1883), timeout=1):
        return True
    return False


pytestmark = pytest.mark.skipif(
    not _mosquitto_up() and os.environ.get("CI") != "true", reason="no MQTT broker on 127.0.0.1:1883"
)


async def test_platform_ingests_from_mosquitto(tmp_path: Path) -> None:
    root = f"sftest-{uuid.uuid4().hex[:8]}/v1"
    settings = load_settings(
        overrides={
            "data_dir": tmp_path / "data",
            "api": {"port": 0},
            "mqtt": {
                "embedded": False,
                "host": "127.0.0.1",
                "port": 1883,
                "topic_root": root,
                "client_id": f"sf-{uuid.uuid4().hex[:8]}",
            },
            "store": {"flush_interval_s": 0.1},
            "security": {"profile": "demo"},
        }
    )
    async with serving(Platform(settings, plant=Plant.from_dict(PLANT))) as platform:

        def publish() -> None:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            c.connect("127.0.0.1", 1883)
            c.loop_start()
            c.publish(
                f"{root}/mill/converting/line1/cutter/data", '{"values": {"force": 77.0}}', qos=1
            ).wait_for_publish(5)
            c.loop_stop()
            c.disconnect()

        await asyncio.to_thread(publish)
        deadline = time.monotonic() + 10
        values: list = []
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline and not values:
                rows = (await client.get(f"http://127.0.0.1:{platform.http_port}/api/v1/latest")).json()
                values = [r["value"] for r in rows if r["tag"] == "force"]
                await asyncio.sleep(0.1)
        assert values == [77.0]
