"""The commands API with real sign-in (API tokens of two users), a real state store, and the
simulated plant's MQTT command endpoint behind the embedded broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shopfloor.api.commands import router
from shopfloor.broker.embedded import EmbeddedBroker
from shopfloor.core.assets import Plant
from shopfloor.core.settings import CommandSettings, InterlockSettings, SecuritySettings
from shopfloor.rules.commands import CommandService
from shopfloor.rules.commands.mqtt import MqttTransport
from shopfloor.security.manager import Security
from shopfloor.sim import DEFAULT_PLANT, Simulation
from shopfloor.sim.mqtt import MqttEndpoint
from shopfloor.store.state import StateStore

CUTTER = "riverside/converting/line1/cutter"
PUMP = "riverside/papermaking/pm1/stock_pump"


@pytest.fixture
async def api(
    tmp_path: Path,
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, dict[str, str]], Simulation]]:
    plant = Plant.load(DEFAULT_PLANT)
    sim = Simulation(plant, seed=5, sensor_faults=False, waveform_samples=256)
    sim.step(1.0)
    broker = EmbeddedBroker("127.0.0.1", 0)
    await broker.start()
    endpoint = MqttEndpoint(sim, "127.0.0.1", broker.port)
    await endpoint.start()
    state = StateStore(tmp_path / "state.db")
    await state.open()
    security = Security(tmp_path, SecuritySettings(profile="secure"))
    await security.open()
    headers: dict[str, dict[str, str]] = {}
    for user, role in (("erin", "engineer"), ("otto", "operator"), ("vic", "viewer")):
        security.identity.add_user_sync(user, "correct-horse-battery", role)
        _tid, secret = security.identity.new_token_sync(f"{user}-t", user, role)
        headers[user] = {"Authorization": f"Bearer {secret}"}
    _tid, secret = security.identity.new_token_sync("erin-second", "erin", "engineer")
    headers["erin2"] = {"Authorization": f"Bearer {secret}"}  # another token of the same person
    settings = CommandSettings(
        transport="mqtt", interlocks=[InterlockSettings(asset=CUTTER, tag="cut_rate_sp", critical=True)]
    )
    transport = MqttTransport("127.0.0.1", broker.port, client_id="cmd-api-test")
    svc = CommandService(plant, state, transport, settings, audit=security.audit.record)
    await svc.start()
    app = FastAPI()
    app.state.platform = SimpleNamespace(commands=svc, security=security)
    app.include_router(router, prefix="/api/v1")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t/api/v1") as c:
        yield c, headers, sim
    await svc.stop()
    await endpoint.stop()
    await broker.stop()
    await security.close()
    await state.close()


async def test_submit_approve_list_get(api: Any) -> None:
    c, h, sim = api
    body = {"asset": PUMP, "tag": "speed_sp", "value": 1400, "reason": "more flow"}
    assert (await c.post("/commands", json=body)).status_code == 401
    assert (await c.post("/commands", json=body, headers=h["vic"])).status_code == 403
    r = await c.post("/commands", json=body, headers=h["erin"])
    assert r.status_code == 201 and r.json()["state"] == "confirmed", r.json()
    assert r.json()["requested_by"] == "erin"  # a token acts for its owner
    assert sim.setpoint(PUMP, "speed_sp") == pytest.approx(1400)

    r = await c.post("/commands", json={**body, "value": 99999}, headers=h["erin"])
    assert r.status_code == 201 and r.json()["state"] == "refused"
    assert r.json()["result"]["reason"] == "out_of_limits"

    crit = (
        await c.post(
            "/commands", json={"asset": CUTTER, "tag": "cut_rate_sp", "value": 55}, headers=h["erin"]
        )
    ).json()
    assert crit["state"] == "requested" and crit["critical"]
    r = await c.post(
        f"/commands/{crit['id']}/approve", headers=h["erin"]
    )  # engineers may approve, not their own
    assert r.status_code == 409 and "second person" in r.json()["detail"]
    assert (await c.post(f"/commands/{crit['id']}/approve", headers=h["vic"])).status_code == 403
    r = await c.post(f"/commands/{crit['id']}/approve", headers=h["erin2"])
    assert r.status_code == 409, "a second token of the requester is not a second person"
    r = await c.post(f"/commands/{crit['id']}/approve", json={"comment": "ok"}, headers=h["otto"])
    assert r.status_code == 200 and (r.json()["state"], r.json()["approved_by"]) == (
        "confirmed",
        "otto",
    )
    assert sim.setpoint(CUTTER, "cut_rate_sp") == pytest.approx(55)
    assert (await c.post("/commands/nope/approve", headers=h["otto"])).status_code == 404

    listed = (await c.get("/commands", params={"state": "confirmed"}, headers=h["vic"])).json()
    assert {x["id"] for x in listed} == {
        crit["id"],
        (await c.get("/commands", headers=h["vic"])).json()[-1]["id"],
    }
    assert (await c.get("/commands", params={"state": "bogus"}, headers=h["vic"])).status_code == 422
    got = (await c.get(f"/commands/{crit['id']}", headers=h["vic"])).json()
    assert [(t["to"], t["user"]) for t in got["trail"]] == [
        ("requested", "erin"),
        ("approved", "otto"),
        ("sent", "system"),
        ("confirmed", "system"),
    ]
    assert (await c.get("/commands/nope", headers=h["vic"])).status_code == 404
