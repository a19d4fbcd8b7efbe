"""Alarms in the running platform: a sample over a limit raises an alarm an operator acknowledges."""

import asyncio
import json
import time
from pathlib import Path

import httpx

from shopfloor.core.assets import Plant
from shopfloor.core.settings import load_settings
from shopfloor.service import Platform

from .conftest import PLANT, serving

RULES = """
[[rule]]
id = "force_high"
asset = "mill/converting/line1/cutter"
tag = "force"
kind = "high"
limit = 1000
deadband = 10
priority = "high"
"""


async def test_alarm_raised_acknowledged_and_returned(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    settings = load_settings(
        overrides={
            "data_dir": tmp_path / "data",
            "rules": rules,
            "api": {"port": 0},
            "mqtt": {"port": 0},
            "security": {"profile": "demo"},
        }
    )
    async with serving(Platform(settings, plant=Plant.from_dict(PLANT))) as platform:
        base = f"http://127.0.0.1:{platform.http_port}/api/v1"
        cutter = "mill/converting/line1/cutter"
        async with httpx.AsyncClient() as c:

            async def post(value: float) -> None:
                body = {"asset": cutter, "ts": time.time(), "values": {"force": value}}
                assert (await c.post(f"{base}/ingest", content=json.dumps(body))).status_code == 200

            async def alarms() -> list:
                return (await c.get(f"{base}/alarms")).json()

            await post(1500.0)
            deadline = time.monotonic() + 10
            active: list = []
            while time.monotonic() < deadline and not active:
                active = [a for a in await alarms() if a["state"] != "normal"]
                await asyncio.sleep(0.1)
            assert len(active) == 1 and active[0]["priority"] == "high"
            alarm_id = active[0]["id"]
            r = await c.post(
                f"{base}/alarms/{alarm_id}/ack", json={"user": "olga", "comment": "blade ordered"}
            )
            assert r.status_code == 200, r.text
            await post(500.0)
            deadline = time.monotonic() + 10
            state = ""
            while time.monotonic() < deadline and state != "normal":
                state = (await c.get(f"{base}/alarms/{alarm_id}")).json()["state"]
                await asyncio.sleep(0.1)
            assert state == "normal"
            journal = (await c.get(f"{base}/alarms/journal")).json()
            assert any(j.get("user") == "olga" for j in journal)
            health = (await c.get(f"{base}/health")).json()
            assert "rules" in health
