"""The platform with its time series in PostgreSQL (store.backend = 'postgres')."""

import asyncio
import json
import time
from pathlib import Path

import httpx

from shopfloor.core.assets import Plant
from shopfloor.core.settings import load_settings
from shopfloor.service import Platform
from shopfloor.store.postgres import PostgresStore

from ..store.conftest_pg import pg_dsn, pg_schema  # noqa: F401  (fixtures)
from .conftest import PLANT, serving

CUTTER = "mill/converting/line1/cutter"


async def test_ingest_into_postgres_and_read_back(tmp_path: Path, pg_dsn: str, pg_schema: str) -> None:  # noqa: F811
    settings = load_settings(
        overrides={
            "data_dir": tmp_path / "data",
            "api": {"port": 0},
            "mqtt": {"port": 0},
            "store": {
                "backend": "postgres",
                "postgres_dsn": pg_dsn,
                "postgres_schema": pg_schema,
                "flush_interval_s": 0.1,
            },
            "security": {"profile": "demo"},
        }
    )
    platform = Platform(settings, plant=Plant.from_dict(PLANT))
    assert isinstance(platform.store, PostgresStore)
    async with serving(platform):
        base = f"http://127.0.0.1:{platform.http_port}/api/v1"
        now = time.time()
        body = [
            {"asset": CUTTER, "ts": now - 30 + i, "values": {"force": float(i), "state": "run"}}
            for i in range(30)
        ]
        async with httpx.AsyncClient() as c:
            r = await c.post(f"{base}/ingest", content=json.dumps(body))
            assert r.json()["accepted"] == 60
            deadline = time.monotonic() + 10
            latest: dict = {}
            while time.monotonic() < deadline and latest.get("force") != 29.0:
                rows = (await c.get(f"{base}/latest", params={"asset": CUTTER})).json()
                latest = {x["tag"]: x["value"] for x in rows}
                await asyncio.sleep(0.1)
            assert latest == {"force": 29.0, "state": "run"}
            agg = (
                await c.get(
                    f"{base}/history",
                    params={
                        "asset": CUTTER,
                        "tag": "force",
                        "start": "-2m",
                        "bucket": "1h",
                        "agg": "count,sum",
                    },
                )
            ).json()
            assert sum(p["count"] for p in agg["points"]) == 30
            assert sum(p["sum"] for p in agg["points"]) == sum(range(30))
            health = (await c.get(f"{base}/health")).json()
            assert health["store"]["backend"] == "postgres"
