"""KPI and metering endpoints on a running platform (embedded, demo security profile)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from shopfloor.core.assets import Plant
from shopfloor.core.sample import Sample
from shopfloor.core.settings import load_settings
from shopfloor.service import Platform, run_platform
from shopfloor.sim.simulation import DEFAULT_PLANT

NS = 1_000_000_000
MIN = 60 * NS
T0 = 1_763_000_000 * NS // (3600 * NS) * 3600 * NS
W = "riverside/packaging/pack1/wrapper"
CONTRACTS = """
[[contract]]
id = "c-wrap"
customer = "Pack & Go"
asset = "riverside/packaging/pack1/wrapper"
metric = "units"
tag = "good_count"
[contract.tariff]
base_fee = 10.0
tiers = [ { up_to = 100, price = 0.5 }, { price = 0.25 } ]
"""


@contextlib.asynccontextmanager
async def _platform(data_dir: Path) -> AsyncIterator[Platform]:
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        overrides={
            "data_dir": data_dir,
            "api": {"port": 0},
            "mqtt": {"port": 0},
            "store": {"flush_interval_s": 0.1},
            "security": {"profile": "demo"},
        }
    )
    p = Platform(settings, plant=Plant.load(DEFAULT_PLANT))
    stop = asyncio.Event()
    task = asyncio.create_task(run_platform(p, stop=stop))
    for _ in range(400):
        if p.http_port:
            break
        if task.done():
            await task
        await asyncio.sleep(0.05)
    try:
        yield p
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_oee_energy_shifts_and_statements(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "contracts.toml").write_text(CONTRACTS)
    samples = []
    for m in range(120):  # two hours: running except minutes 30-39 (jam)
        ts = T0 + m * MIN
        down = 30 <= m < 40
        samples += [
            Sample(W, "state", ts, "down" if down else "running"),
            Sample(W, "reason_code", ts, "jam" if down else "none"),
            Sample(W, "good_count", ts, 100 * m),
            Sample(W, "reject_count", ts, m // 10),
            Sample(W, "energy", ts, 0.2 * m),
            Sample(W, "power", ts, 12.0),
        ]
    async with (
        _platform(data) as p,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{p.http_port}/api/v1") as c,
    ):
        await p.store.write(samples)
        span = {"start": str(T0), "end": str(T0 + 120 * MIN)}
        r = await c.get("/kpi/oee", params={"asset": W, **span})
        assert r.status_code == 200, r.text
        body = r.json()
        oee = body["machines"][0]["oee"]
        assert oee["run_s"] == 110 * 60 and oee["planned_s"] == 120 * 60
        assert oee["pareto"][0]["reason"] == "jam" and oee["total"] == 11_900 + 11
        r = await c.get("/kpi/oee", params={"asset": "riverside/packaging", **span})
        assert r.json()["combined"]["run_s"] >= 110 * 60
        r = await c.get("/kpi/shifts", params={"asset": W, **span, "shifts": "X@00:00-12:00,Y@12:00-00:00"})
        assert r.status_code == 200, r.text
        assert sum(s["good"] for s in r.json()) == 11_900  # shifts add up to the whole window
        r = await c.get("/kpi/energy", params={"asset": W, "kg_per_kwh": 0.5, **span})
        e = r.json()
        assert e["kwh"] == pytest.approx(0.2 * 119) and e["co2e_kg"] == pytest.approx(0.1 * 119)
        assert (await c.get("/kpi/oee", params={"asset": "no/such"})).status_code == 404

        r = await c.post("/metering/usage", json=span)
        assert r.status_code == 200, r.text
        assert r.json()[0]["quantity"] == 11_900
        r = await c.get("/metering/statements/c-wrap", params={"month": "2025-11", "format": "json"})
        st = r.json()
        assert st["total"] == pytest.approx(10 + 50 + (11_900 - 100) * 0.25) and st["chain"]["verified"]
        r = await c.get("/metering/statements/c-wrap", params={"month": "2025-11", "format": "csv"})
        assert r.headers["content-type"].startswith("text/csv") and "charge" in r.text
        assert (await c.get("/metering/statements/c-wrap", params={"month": "11-2025"})).status_code == 400
        assert (await c.get("/metering/statements/nope", params={"month": "2025-11"})).status_code == 404
        v = (await c.get("/metering/verify")).json()
        assert v["ok"] and v["records"] == 1
    assert json.loads(json.dumps(v))["head"]["seq"] == 1
