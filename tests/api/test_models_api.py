"""Asset health and the model registry over the API, on a running embedded platform."""

import json
import random
import time

import httpx

from shopfloor.service import Platform

from .test_api import CUTTER, url, wait_for


async def test_health_scores_models_and_retrain(platform: Platform) -> None:
    platform.scorer.train_rows = 40
    rng = random.Random(4)
    now = time.time_ns()
    body = [
        {
            "asset": CUTTER,
            "ts": (now - (80 - i) * 10**9) // 10**6,
            "values": {"force": 800 + rng.gauss(0, 20), "temp": 40 + rng.gauss(0, 1), "cuts": i},
        }
        for i in range(80)
    ]
    async with httpx.AsyncClient() as c:
        assert (await c.post(url(platform, "/api/v1/ingest"), content=json.dumps(body))).status_code == 200

        async def scoring() -> list:
            rows = (await c.get(url(platform, "/api/v1/health/assets"))).json()
            return [
                r for r in rows if r["asset"] == CUTTER and r["state"] == "scoring" and r["model_version"]
            ]

        row = (await wait_for(scoring))[0]
        assert row["features"] == ["force", "temp", "cuts"] and 0 <= row["health"] <= 100

        async def latest_score() -> list:
            rows = (await c.get(url(platform, "/api/v1/latest"), params={"asset": CUTTER})).json()
            return [x for x in rows if x["tag"] in ("anomaly_score", "health")]

        assert {x["tag"] for x in await wait_for(latest_score)} == {"anomaly_score", "health"}
        models = (await c.get(url(platform, "/api/v1/models"))).json()
        assert [(m["asset"], m["version"]) for m in models] == [(CUTTER, 1)]
        one = (await c.get(url(platform, f"/api/v1/models/{CUTTER}"))).json()
        assert one["versions"] == [1] and one["latest"]["metrics"]["train_rows"] == 40
        r = await c.post(url(platform, f"/api/v1/models/{CUTTER}/retrain"))
        assert r.status_code == 200 and r.json()["state"] == "learning"
        r = await c.post(url(platform, "/api/v1/models/mill/converting/line10/press/retrain"))
        assert r.status_code == 404 and "not scored" in r.json()["detail"]
