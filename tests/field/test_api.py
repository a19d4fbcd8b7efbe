"""The feedback and field routes on a real secure-profile platform, with role tokens."""

from __future__ import annotations

import httpx

from ..security.conftest import Secured, secured  # noqa: F401  (fixture)

BASE = 1_769_904_000 * 10**9


async def test_feedback_routes_with_permissions(secured: Secured) -> None:  # noqa: F811
    async with httpx.AsyncClient(base_url=secured.base + "/api/v1") as c:
        eng, viewer, device = secured.auth("engineer"), secured.auth("viewer"), secured.auth("device")
        item = {"text": "RB-200 boards warped, SN L2-20260104-0021-00003", "ts": BASE, "channel": "social"}
        assert (await c.post("/feedback", json=item)).status_code == 401
        assert (await c.post("/feedback", json=item, headers=viewer)).status_code == 403
        assert (await c.post("/feedback", json=item, headers=device)).status_code == 403
        r = await c.post("/feedback", json=[item, {"text": ""}, {"nope": 1}], headers=eng)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["accepted"] == 1 and [x["index"] for x in body["rejected"]] == [1, 2]
        assert (await c.post("/feedback", json="text", headers=eng)).status_code == 400
        rows = (await c.get("/feedback", headers=viewer)).json()
        assert rows[0]["topic"] == "warp" and rows[0]["models"] == ["RB-200"]
        assert rows[0]["serials"] == ["L2-20260104-0021-00003"]
        assert (await c.get("/feedback?topic=billing", headers=viewer)).json() == []
        rej = (await c.get("/feedback/rejected", headers=viewer)).json()
        assert rej["counters"]["rejected"] == 2 and len(rej["items"]) == 2
        burst = [
            {"text": "Same here, boards warped and curling", "ts": BASE + 10**12 + i * 10**10}
            for i in range(8)
        ]
        alarms = (await c.post("/feedback", json=burst, headers=eng)).json()["alarms"]
        assert [a["topic"] for a in alarms] == ["warp"]
        assert (await c.get("/feedback/alarms", headers=viewer)).json()[0]["topic"] == "warp"
        # units and traces
        units = [
            {
                "serial": f"L2-20260104-0021-{i:05d}",
                "batch": "L2-20260104-0021",
                "ship_ns": BASE,
                "usage_hours": 10.0 + i,
                "failed": i % 3 == 0,
            }
            for i in range(12)
        ]
        assert (await c.post("/field/units", json=units, headers=eng)).json() == {"accepted": 12}
        assert (await c.post("/field/units", json=[{"batch": "x"}], headers=eng)).status_code == 422
        assert (
            await c.get("/field/trace/L2-20260104-0021-00003", headers=viewer)
        ).status_code == 404  # no profile
        assert (
            await c.get("/field/report", headers=viewer)
        ).status_code == 409  # one batch: nothing to compare
        assert (await c.get("/feedback")).status_code == 401
