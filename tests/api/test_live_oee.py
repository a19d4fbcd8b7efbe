"""Live OEE from the analytics role's stream, over the API."""

import json
import time

import httpx

from shopfloor.service import Platform

from .test_api import CUTTER, url, wait_for


async def test_live_oee_from_the_stream(platform: Platform) -> None:
    now = time.time()
    states = ["running"] * 40 + ["down"] * 10 + ["running"] * 10  # one stop of 10 s in a minute
    body = [{"asset": CUTTER, "ts": now - 60 + i, "values": {"state": s}} for i, s in enumerate(states)]
    async with httpx.AsyncClient() as c:
        assert (await c.post(url(platform, "/api/v1/ingest"), content=json.dumps(body))).status_code == 200

        async def live() -> dict:
            r = (await c.get(url(platform, "/api/v1/kpi/oee/live"), params={"minutes": 2})).json()
            m = r["machines"].get(CUTTER, {})
            return m if m.get("failure_s") else {}

        m = await wait_for(live)
        assert 9 <= m["failure_s"] <= 11 and m["failures"] == 1  # the ten seconds down
        assert 0.7 < m["availability"] < 0.95
        r = await c.get(url(platform, "/api/v1/kpi/oee/live"), params={"minutes": 0})
        assert r.status_code == 422
