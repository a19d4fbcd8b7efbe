"""The pilot ROI report: known numbers on hand-made history, the CLI, and the simulated plant."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopfloor.cli import app
from shopfloor.core.assets import Plant
from shopfloor.core.sample import Sample
from shopfloor.report import Economics, pilot_report
from shopfloor.sim.simulation import DEFAULT_PLANT
from shopfloor.store.embedded import EmbeddedStore

NS = 1_000_000_000
MIN = 60 * NS
H = 60 * MIN
T0 = 1_763_000_000 * NS // H * H
W = "riverside/packaging/pack1/wrapper"


def _hour(start: int, run_min: int, good: int, reject: int, kwh: float, base: tuple[int, int, float]) -> list:
    """One hour of the wrapper: running, then down (jam); counters and meter rise from ``base``
    at the hour's first sample to ``base + made`` by its last (so each hour holds its own usage)."""
    g0, r0, e0 = base
    out = []
    for m in range(60):
        ts = start + m * MIN
        running = m < run_min
        out += [
            Sample(W, "state", ts, "running" if running else "down"),
            Sample(W, "reason_code", ts, "none" if running else "jam"),
            Sample(W, "good_count", ts, g0 + good * min(m, run_min) // run_min),
            Sample(W, "reject_count", ts, r0 + reject * min(m, run_min) // run_min),
            Sample(W, "energy", ts, e0 + kwh * m / 59),
            Sample(W, "ideal_cycle_time", ts, 0.5),
        ]
    return out


async def _fill(path: Path) -> None:
    store = EmbeddedStore(path / "timeseries.duckdb")
    await store.open()
    base = _hour(T0, 40, 2000, 100, 10.0, (0, 0, 0.0))
    pilot = _hour(T0 + H, 50, 2500, 50, 11.0, (2000, 100, 10.0))
    await store.write(base + pilot)
    await store.close()


def test_known_numbers(tmp_path: Path) -> None:
    asyncio.run(_fill(tmp_path))
    econ = Economics(
        downtime_cost_per_hour=600,
        scrap_cost_per_unit=1.0,
        energy_price_per_kwh=0.2,
        investment=1000,
        annual_cost=0,
        operating_hours_per_year=1000,
    )

    async def run() -> dict:
        store = EmbeddedStore(tmp_path / "timeseries.duckdb")
        await store.open()
        try:
            res, html = await pilot_report(
                store, Plant.load(DEFAULT_PLANT), (T0, T0 + H), (T0 + H, T0 + 2 * H), econ, [W]
            )
        finally:
            await store.close()
        assert html.startswith("<!doctype html>") and html.count("<svg") >= 3 and "<script" not in html
        return res

    r = asyncio.run(run())
    # baseline: 20 of 60 planned minutes down, 100 of 2100 rejected, 10 kWh for 2000 good
    # pilot: 10 of 60 minutes down, 50 of 2550 rejected, 11 kWh for 2500 good
    assert r["baseline"]["downtime_h"] == pytest.approx(20 / 60)
    assert r["pilot"]["downtime_h"] == pytest.approx(10 / 60)
    assert r["downtime_avoided_h"] == pytest.approx(1 / 6)
    assert r["scrap_avoided_units"] == pytest.approx(100 / 2100 * 2550 - 50)
    assert r["energy_saved_kwh"] == pytest.approx((10 / 2000 - 11 / 2500) * 2500)
    assert r["savings"]["downtime"] == pytest.approx(100.0)
    expected = 100.0 + (100 / 2100 * 2550 - 50) * 1.0 + 1.5 * 0.2
    assert r["pilot_savings"] == pytest.approx(expected)
    assert r["annual_savings"] == pytest.approx(expected * 1000)
    assert r["roi_first_year"] == pytest.approx((expected * 1000 - 1000) / 1000)
    assert r["payback_months"] == pytest.approx(1000 / (expected * 1000 / 12))


def test_cli_writes_html(tmp_path: Path) -> None:
    asyncio.run(_fill(tmp_path))
    out = tmp_path / "report.html"
    res = CliRunner().invoke(
        app,
        [
            "report",
            "pilot",
            "--from",
            str((T0 + H) // NS),
            "--to",
            str((T0 + 2 * H) // NS),
            "--asset",
            W,
            "--data-dir",
            str(tmp_path),
            "-o",
            str(out),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    numbers = json.loads(res.output.strip().splitlines()[-1])
    assert numbers["downtime_avoided_h"] == pytest.approx(1 / 6)  # baseline defaulted to the hour before
    assert "Downtime avoided" in out.read_text()


def test_simulated_plant_report(tmp_path: Path) -> None:
    """Two simulated hours of the whole paper mill, straight from the simulator into the store."""
    from shopfloor.sim import backfill
    from shopfloor.sim.simulation import Simulation

    plant = Plant.load(DEFAULT_PLANT)

    async def run() -> tuple[dict, str]:
        store = EmbeddedStore(tmp_path / "timeseries.duckdb")
        await store.open()
        try:
            sim = Simulation(plant, seed=7, start_ns=T0)
            await backfill(sim, store.write, 2 * 3600, tick_s=10.0)
            return await pilot_report(store, plant, (T0, T0 + H), (T0 + H, T0 + 2 * H))
        finally:
            await store.close()

    r, html = asyncio.run(run())
    pilot = {m["asset"]: m for m in r["machines"]["pilot"]}
    wrapper = pilot[W]
    assert wrapper["oee"] is not None and 0 < wrapper["oee"]["oee"] <= 1
    assert wrapper["good"] == wrapper["oee"]["good"] and wrapper["good"] > 1000
    assert wrapper["kwh"] > 0 and wrapper["kwh_per_unit"] > 0
    cutter = pilot["riverside/converting/line1/cutter"]
    assert cutter["oee"] is not None and 0 < cutter["oee"]["oee"] <= 1 and cutter["good"] > 0
    pump = pilot["riverside/papermaking/pm1/stock_pump"]
    assert pump["kwh"] > 0 and pump["peak_kw"] > 0  # power only: energy from integration
    assert "OEE per machine" in html


def test_energy_anomalies_against_the_baseline() -> None:
    from shopfloor.report import MachineKpis, Window
    from shopfloor.report.pilot import energy_anomalies

    q = 900 * NS
    base = MachineKpis(W, demand=[(i * q, 12.0 + 0.1 * (i % 5)) for i in range(96)])
    pilot_profile = [(T0 + i * q, 12.0 + 0.1 * (i % 5)) for i in range(96)]
    pilot_profile[40] = (T0 + 40 * q, 30.0)  # something left running at full power
    found = energy_anomalies(
        Window(0, 96 * q, [base]), Window(T0, T0 + 96 * q, [MachineKpis(W, demand=pilot_profile)])
    )
    assert [(a["asset"], a["start"]) for a in found] == [(W, T0 + 40 * q)]
    assert found[0]["kwh"] == pytest.approx(7.5) and found[0]["z"] > 4
