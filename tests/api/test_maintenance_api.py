"""Maintenance planning and work orders over the API, on a running embedded platform."""

import tomllib
from pathlib import Path

import httpx

from shopfloor.service import Platform

from .test_api import url

EXAMPLE = Path(__file__).parents[2] / "examples" / "maintenance-plan.toml"


async def test_plan_creates_work_orders_that_move_through_their_life_cycle(platform: Platform) -> None:
    doc = tomllib.loads(EXAMPLE.read_text())
    async with httpx.AsyncClient() as c:
        r = await c.post(
            url(platform, "/api/v1/maintenance/plan"), params={"create_orders": "true"}, json=doc
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["policies"]["plan"] < out["policies"]["run_to_failure"]
        ids = out["work_orders"]
        assert ids
        orders = (await c.get(url(platform, "/api/v1/workorders"), params={"state": "planned"})).json()
        assert sorted(o["id"] for o in orders) == sorted(ids)
        first = ids[0]
        r = await c.post(url(platform, f"/api/v1/workorders/{first}/state"), json={"state": "done"})
        assert r.status_code == 409 and "cannot go to done" in r.json()["detail"]
        r = await c.post(
            url(platform, f"/api/v1/workorders/{first}/state"), json={"state": "released", "user": "maria"}
        )
        assert r.status_code == 200 and r.json()["state"] == "released" and "maria" in r.json()["note"]
        assert (await c.get(url(platform, "/api/v1/workorders/99999"))).status_code == 404
        bad = await c.post(url(platform, "/api/v1/maintenance/plan"), json={"calendar": {"horizon_h": 10}})
        assert bad.status_code == 422 and "task" in bad.json()["detail"]


async def test_done_work_order_renews_the_asset_in_analytics(platform: Platform) -> None:
    from .test_api import CUTTER

    plan = {
        "calendar": {"horizon_h": 24, "offline": [[2, 6]], "technicians": 1},
        "task": [{"asset": CUTTER, "duration_h": 1, "rul": {"point": 20, "lo": 12, "hi": 40}}],
    }
    platform.scorer.assets[CUTTER].model = object()  # stands for a trained model: scoring
    async with httpx.AsyncClient() as c:
        r = await c.post(
            url(platform, "/api/v1/maintenance/plan"), params={"create_orders": "true"}, json=plan
        )
        (order,) = r.json()["work_orders"]
        for state in ("released", "in_progress"):
            r = await c.post(url(platform, f"/api/v1/workorders/{order}/state"), json={"state": state})
            assert r.status_code == 200 and "analytics" not in r.json()
        r = await c.post(url(platform, f"/api/v1/workorders/{order}/state"), json={"state": "done"})
        assert r.status_code == 200 and r.json()["analytics"] == "relearning"
    assert platform.scorer.status(CUTTER)["state"] == "learning"
