"""The alarms and rules API, mounted on a small FastAPI app over httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shopfloor.api.alarms import router
from shopfloor.bus.memory import MemoryBus
from shopfloor.core.assets import Plant
from shopfloor.core.clock import NS, ManualClock
from shopfloor.core.sample import Sample
from shopfloor.core.settings import SecuritySettings
from shopfloor.rules.engine import RuleEngine
from shopfloor.rules.load import load_rules_text
from shopfloor.security.manager import Security
from shopfloor.store.state import StateStore

from .conftest import CUTTER, PUMP1

RULES = f"""
[[rule]]
id = "force_high"
asset = "{CUTTER}"
tag = "cutting_force"
kind = "high"
limit = 1600
priority = "high"
"""
FORCE = f"force_high@{CUTTER.replace('/', '.')}"


@pytest.fixture
async def api(
    plant: Plant, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    bus = MemoryBus()
    state = StateStore(tmp_path / "state.db")
    await state.open()
    engine = RuleEngine(plant, bus, state, load_rules_text(RULES), clock=clock, tick_s=3600)
    await engine.start()
    security = Security(tmp_path, SecuritySettings(profile="demo"))  # the demo's anonymous admin
    await security.open()
    app = FastAPI()
    app.state.platform = SimpleNamespace(rules=engine, security=security)
    app.include_router(router, prefix="/api/v1")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as client:
        yield client, engine
    await engine.stop()
    await security.close()
    await bus.close()
    await state.close()


async def test_alarm_lifecycle_over_http(api: tuple[httpx.AsyncClient, Any], clock: ManualClock) -> None:
    c, engine = api
    await engine.process([Sample(CUTTER, "cutting_force", clock.now_ns(), 1800.0)])
    alarms = (await c.get("/alarms", params={"state": "unacknowledged,acknowledged"})).json()
    assert [a["id"] for a in alarms] == [FORCE]
    assert (await c.get("/alarms", params={"priority": "low"})).json() == []
    assert (await c.get("/alarms", params={"state": "bogus"})).status_code == 422
    assert (await c.get(f"/alarms/{FORCE}")).json()["state"] == "unacknowledged"
    assert (await c.get("/alarms/nope")).status_code == 404

    r = await c.post(f"/alarms/{FORCE}/ack", json={"user": "olga", "comment": "on it"})
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    r = await c.post(f"/alarms/{FORCE}/ack", json={"user": "olga"})
    assert r.status_code == 409 and "nothing to acknowledge" in r.json()["detail"]
    assert (await c.post(f"/alarms/{FORCE}/ack", json={"comment": "no user"})).status_code == 422
    assert (await c.post("/alarms/nope/ack", json={"user": "olga"})).status_code == 404

    r = await c.post(f"/alarms/{FORCE}/shelve", json={"user": "olga", "duration": "30m", "comment": "x"})
    assert r.json()["state"] == "shelved" and r.json()["shelved_until"] == clock.now_ns() + 1800 * NS
    bad = await c.post(f"/alarms/{FORCE}/shelve", json={"user": "olga", "duration": "soon"})
    assert bad.status_code == 422
    assert (await c.post(f"/alarms/{FORCE}/unshelve", json={"user": "olga"})).json()[
        "state"
    ] == "unacknowledged"
    assert (
        await c.post(f"/alarms/{FORCE}/comment", json={"user": "piet", "comment": "fine"})
    ).status_code == 200
    assert (await c.post(f"/alarms/{FORCE}/out-of-service", json={"user": "piet"})).json()["state"] == (
        "out_of_service"
    )
    r = await c.post(f"/alarms/{FORCE}/return-to-service", json={"user": "piet"})
    assert r.json()["state"] == "unacknowledged"

    journal = (await c.get("/alarms/journal", params={"alarm_id": FORCE})).json()
    assert [e["event"] for e in reversed(journal)] == [
        "activate",
        "ack",
        "shelve",
        "unshelve",
        "comment",
        "out_of_service",
        "return_to_service",
    ]
    assert (await c.get("/alarms/journal", params={"asset": "mill/conv", "event": "ack"})).json()[0][
        "user"
    ] == "olga"
    assert (await c.get("/alarms/journal", params={"asset": "mill/pm"})).json() == []

    m = (await c.get("/alarms/metrics")).json()
    assert m["annunciated"] == 3 and m["rate"]["latest_window"] == 3.0
    assert m["standing"]["count"] == 1 and m["states"]["unacknowledged"] == 1
    assert (await c.get("/alarms/metrics", params={"window": "1h", "period": "10m"})).status_code == 422


async def test_rules_over_http(api: tuple[httpx.AsyncClient, Any], clock: ManualClock) -> None:
    c, _ = api
    rules = (await c.get("/rules")).json()
    assert [r["id"] for r in rules] == ["force_high"] and rules[0]["source"].endswith(":2")
    body = {"id": "temp_high", "asset": PUMP1, "tag": "bearing_temp", "kind": "high", "limit": 90}
    r = await c.post("/rules", json=body, params={"user": "olga"})
    assert r.status_code == 201 and r.json()["source"] == "api"
    assert r.json()["alarms"] == [f"temp_high@{PUMP1.replace('/', '.')}"]
    assert (await c.get("/rules/temp_high")).json()["limit"] == 90

    r = await c.post("/rules", json={**body, "limit": "ninety"})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail[0]["loc"] == ["body", "limit"] and "field 'limit'" in detail[0]["msg"]
    r = await c.post("/rules", json={**body, "kind": "expression", "expr": "import os"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "expr"]
    r = await c.post("/rules", json={**body, "asset": "mill/nowhere"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "asset"]
    assert (await c.post("/rules", json={**body, "id": "force_high"})).status_code == 409

    assert (await c.delete("/rules/force_high")).status_code == 409
    assert (await c.delete("/rules/temp_high")).status_code == 204
    assert (await c.delete("/rules/temp_high")).status_code == 404
    assert (await c.get("/rules/temp_high")).status_code == 404
