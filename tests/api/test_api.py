"""The platform's HTTP API, served by a real uvicorn on a free port."""

import asyncio
import json
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import websockets

from shopfloor.service import Platform

from .conftest import running

CUTTER = "mill/converting/line1/cutter"


def url(p: Platform, path: str) -> str:
    return f"http://127.0.0.1:{p.http_port}{path}"


async def wait_for(predicate, timeout: float = 10.0, every: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(every)
    raise AssertionError("condition not met in time")


async def test_health_assets_and_openapi(platform: Platform) -> None:
    async with httpx.AsyncClient() as c:
        h = (await c.get(url(platform, "/api/v1/health"))).json()
        assert h["status"] == "ok" and h["mode"] == "embedded"
        assert h["mqtt"]["port"] == platform.mqtt_port and h["mqtt"]["secured"] is False
        tree = (await c.get(url(platform, "/api/v1/assets"))).json()
        assert tree["name"] == "Test mill"
        assert tree["children"][0]["path"] == "mill"
        a = (await c.get(url(platform, f"/api/v1/assets/{CUTTER}"))).json()
        assert a["level"] == "machine" and {t["name"] for t in a["tags"]} >= {"force", "state"}
        assert (await c.get(url(platform, "/api/v1/assets/nope/x"))).status_code == 404
        tags = (
            await c.get(
                url(
                    platform,
                    "/api/v1/tags",
                ),
                params={"asset": "mill/converting/line1"},
            )
        ).json()
        assert {t["asset"] for t in tags} == {CUTTER}  # line10 is not under line1
        spec = (await c.get(url(platform, "/openapi.json"))).json()
        assert "/api/v1/history" in spec["paths"]
        assert (await c.get(url(platform, "/docs"))).status_code == 200
        page = await c.get(url(platform, "/"))
        assert page.status_code == 200 and "shopfloor" in page.text
        assert (await c.get(url(platform, "/static/app.js"))).status_code == 200


async def test_http_ingest_latest_and_history(platform: Platform) -> None:
    now = time.time_ns()
    body = [
        {"asset": CUTTER, "ts": (now - (60 - i) * 10**9) // 10**6, "values": {"force": 100.0 + i, "cuts": i}}
        for i in range(60)
    ]
    async with httpx.AsyncClient() as c:
        r = await c.post(url(platform, "/api/v1/ingest"), content=json.dumps(body))
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 120

        async def latest() -> list:
            rows = (await c.get(url(platform, "/api/v1/latest"), params={"asset": CUTTER})).json()
            return [x for x in rows if x["tag"] == "force"]

        rows = await wait_for(latest)
        assert rows[0]["value"] == 159.0
        raw = (
            await c.get(
                url(platform, "/api/v1/history"),
                params={"asset": CUTTER, "tag": "force", "start": "-2m", "bucket": "raw"},
            )
        ).json()
        assert [p["value"] for p in raw["points"]] == [100.0 + i for i in range(60)]
        agg = (
            await c.get(
                url(platform, "/api/v1/history"),
                params={
                    "asset": CUTTER,
                    "tag": "force",
                    "start": "-2m",
                    "bucket": "1m",
                    "agg": "min,max,count",
                },
            )
        ).json()
        assert sum(p["count"] for p in agg["points"]) == 60
        assert min(p["min"] for p in agg["points"]) == 100.0
        assert max(p["max"] for p in agg["points"]) == 159.0
        bad = await c.get(url(platform, "/api/v1/history"), params={"asset": CUTTER, "tag": "nope"})
        assert bad.status_code == 404
        bad = await c.get(
            url(platform, "/api/v1/history"),
            params={"asset": CUTTER, "tag": "force", "bucket": "1m", "agg": "median"},
        )
        assert bad.status_code == 400 and "median" in bad.text


async def test_bad_input_is_dead_lettered_and_counted(platform: Platform) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.post(url(platform, "/api/v1/ingest"), content=b"{not json")
        assert r.status_code == 422
        r = await c.post(
            url(platform, "/api/v1/ingest"),
            content=json.dumps({"asset": CUTTER, "values": {"force": 1.0, "nope": 2.0}}),
        )
        assert r.status_code == 200 and r.json()["accepted"] == 1 and r.json()["rejected"] == 1

        async def dead() -> dict:
            d = (await c.get(url(platform, "/api/v1/deadletters"))).json()
            return d if len(d["items"]) >= 2 else {}

        d = await wait_for(dead)
        reasons = {i["reason"] for i in d["items"]}
        assert {"malformed", "unknown_tag"} <= reasons
        assert any("nope" in i["error"] for i in d["items"])
        assert any("{not json" in str(i["payload"]) for i in d["items"])
        metrics = (await c.get(url(platform, "/metrics"))).text
        assert "unknown_tag" in metrics and "malformed" in metrics


def _publish(port: int, topic: str, payload: str) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-pub")
    client.connect("127.0.0.1", port)
    client.loop_start()
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


async def test_mqtt_to_websocket_live_value(platform: Platform) -> None:
    uri = f"ws://127.0.0.1:{platform.http_port}/api/v1/stream?asset={CUTTER}"
    async with websockets.connect(uri) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert isinstance(first, list)
        topic = f"shopfloor/v1/{CUTTER}/data"
        await asyncio.to_thread(
            _publish, platform.mqtt_port, topic, json.dumps({"values": {"force": 4321.0, "state": "running"}})
        )
        seen: dict = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "force" not in seen:
            for row in json.loads(await asyncio.wait_for(ws.recv(), 10)):
                seen[row["tag"]] = row["value"]
        assert seen["force"] == 4321.0 and seen["state"] == "running"


async def test_data_survives_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running(data) as p, httpx.AsyncClient() as c:
        r = await c.post(
            url(p, "/api/v1/ingest"), content=json.dumps({"asset": CUTTER, "tag": "temp", "value": 42.5})
        )
        assert r.json()["accepted"] == 1
    async with running(data) as p, httpx.AsyncClient() as c:
        rows = (await c.get(url(p, "/api/v1/latest"), params={"asset": CUTTER})).json()
        assert [x["value"] for x in rows if x["tag"] == "temp"] == [42.5]


async def test_export_csv_and_parquet(platform: Platform, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    body = [
        {"asset": CUTTER, "values": {"force": float(i), "state": "running"}, "ts": time.time() - 10 + i}
        for i in range(5)
    ]
    async with httpx.AsyncClient() as c:
        assert (await c.post(url(platform, "/api/v1/ingest"), content=json.dumps(body))).status_code == 200
        await asyncio.sleep(0.5)  # past the 0.1 s flush interval
        r = await c.get(url(platform, "/api/v1/export"), params={"format": "csv", "start": "-1m"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        lines = r.text.strip().splitlines()
        assert lines[0].startswith("asset,tag,time,value,quality")
        assert sum(1 for x in lines if ",force," in x) == 5
        assert any("running" in x for x in lines)
        r = await c.get(url(platform, "/api/v1/export"), params={"format": "parquet", "start": "-1m"})
        f = tmp_path / "x.parquet"
        f.write_bytes(r.content)
        table = pq.read_table(f)
        assert table.num_rows == 10
        bad = await c.get(url(platform, "/api/v1/export"), params={"format": "xlsx"})
        assert bad.status_code == 422
