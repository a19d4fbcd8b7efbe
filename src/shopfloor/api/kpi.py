"""Plant KPIs (OEE, losses, energy) and product-as-a-service metering statements.

Contracts are read from ``<data_dir>/contracts.toml`` and usage records live in
``<data_dir>/metering.db`` (see docs/kpi.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel

from ..analytics.kpi import EmissionFactors, OeeTracker, shift_windows
from ..core.clock import now_ns
from ..core.errors import ConfigError, ShopfloorError
from .auth import requires
from .data import _time
from .system import platform_of

router = APIRouter()
DAY_NS = 86_400 * 1_000_000_000


def _window(start: str | None, end: str | None) -> tuple[int, int]:
    t1 = _time(end, now_ns(), "end")
    t0 = _time(start, t1 - DAY_NS, "start")
    if t1 <= t0:
        raise HTTPException(400, "parameter end: must be after start")
    return t0, t1


def _machines(request: Request, asset: str) -> list[str]:
    from ..report.collect import kpi_machines

    plant = platform_of(request).plant
    if asset not in plant:
        raise HTTPException(404, f"no asset {asset!r}")
    return [p for p in kpi_machines(plant) if p == asset or p.startswith(asset + "/")]


@router.get(
    "/kpi/oee",
    dependencies=[requires("kpi:read")],
    tags=["kpi"],
    summary="OEE, six big losses, downtime Pareto, MTBF/MTTR of a machine or every machine below an asset",
)
async def oee(
    request: Request,
    asset: str,
    start: str | None = Query(None, description="ISO time, epoch or relative like -8h (default -24h)"),
    end: str | None = Query(None, description="ISO time, epoch, relative or 'now' (default now)"),
) -> dict[str, Any]:
    from ..report.collect import line_oee, machine_kpis

    t0, t1 = _window(start, end)
    p = platform_of(request)
    machines = [await machine_kpis(p.store, p.plant, m, t0, t1) for m in _machines(request, asset)]
    combined = line_oee(machines)
    return {
        "asset": asset,
        "start": t0,
        "end": t1,
        "combined": combined.as_dict() if combined else None,
        "machines": [m.as_dict() for m in machines],
    }


@router.get(
    "/kpi/oee/live",
    dependencies=[requires("kpi:read")],
    tags=["kpi"],
    summary="OEE of every machine over the last minutes, from the live stream",
)
async def oee_live(
    request: Request,
    minutes: float = Query(60.0, gt=0, le=24 * 60, description="Window ending now, in minutes"),
) -> dict[str, Any]:
    import time

    live = getattr(platform_of(request), "live_kpi", None)
    if live is None or not live.running:
        raise HTTPException(503, "live OEE runs in the analytics role, which this process does not run")
    end = time.time_ns()
    start = end - int(minutes * 60e9)
    machines = {}
    for asset in live.machines():
        try:
            machines[asset] = live.result(asset, start, end)
        except (KeyError, ValueError) as err:
            machines[asset] = {"error": str(err)}
    return {"start": start, "end": end, "machines": machines}


@router.get(
    "/kpi/shifts",
    dependencies=[requires("kpi:read")],
    tags=["kpi"],
    summary="OEE of one machine per shift",
)
async def shifts(
    request: Request,
    asset: str,
    start: str | None = Query(None),
    end: str | None = Query(None),
    shifts: str = Query(
        "A@06:00-14:00,B@14:00-22:00,C@22:00-06:00", description="NAME@HH:MM-HH:MM, ... (UTC)"
    ),
) -> list[dict[str, Any]]:
    from ..analytics.kpi import events_from_samples
    from ..report.collect import TAGS

    t0, t1 = _window(start, end)
    p = platform_of(request)
    if asset not in p.plant:
        raise HTTPException(404, f"no asset {asset!r}")
    try:
        spec = [
            (n, *hours.split("-", 1)) for n, _, hours in (s.strip().partition("@") for s in shifts.split(","))
        ]
        windows = shift_windows(t0, t1, spec)  # type: ignore[arg-type]
    except (TypeError, ValueError, ShopfloorError) as err:
        raise HTTPException(400, f"parameter shifts: {err}") from None
    a = p.plant.asset(asset)
    samples = []
    for tag in TAGS.kpi_tags():
        if a.tag(tag) is not None:
            samples += await p.store.history(asset, tag, t0, t1, limit=20_000_000)
    ideal = a.attributes.get("ideal_cycle_s")
    tracker = OeeTracker(ideal_cycle_s=float(ideal) if ideal is not None else None)
    tracker.fit(events_from_samples(samples, TAGS))
    if tracker.first_ts is None:
        raise HTTPException(404, f"asset {asset!r} has no machine state in the window (tags state/running)")
    return [{"shift": name, "start": s, "end": e, **tracker.result(s, e).as_dict()} for name, s, e in windows]


@router.get(
    "/kpi/energy", dependencies=[requires("kpi:read")], tags=["kpi"], summary="Energy, kWh per unit, CO2e"
)
async def energy(
    request: Request,
    asset: str,
    start: str | None = Query(None),
    end: str | None = Query(None),
    kg_per_kwh: float = Query(EmissionFactors().grid_kg_per_kwh, ge=0, description="Emission factor"),
) -> dict[str, Any]:
    from ..report.collect import machine_kpis

    t0, t1 = _window(start, end)
    p = platform_of(request)
    rows = []
    for path in _machines(request, asset):
        m = (await machine_kpis(p.store, p.plant, path, t0, t1)).as_dict()
        if m["kwh"] is None:
            continue
        m.pop("oee")
        m["co2e_kg"] = m["kwh"] * kg_per_kwh
        rows.append(m)
    total = sum(r["kwh"] for r in rows)
    return {
        "asset": asset,
        "start": t0,
        "end": t1,
        "kwh": total,
        "co2e_kg": total * kg_per_kwh,
        "idle_kwh": sum(r["idle_kwh"] or 0.0 for r in rows),
        "machines": rows,
    }


def _contracts(request: Request) -> dict[str, Any]:
    from ..metering import load_contracts

    path = Path(platform_of(request).data_dir) / "contracts.toml"
    if not path.exists():
        raise HTTPException(404, f"no contracts: put them in {path} (see docs/kpi.md)")
    try:
        return {c.id: c for c in load_contracts(path)}
    except ConfigError as err:
        raise HTTPException(500, str(err)) from None


async def _ledger(request: Request) -> Any:
    from ..metering import Ledger

    return await Ledger(Path(platform_of(request).data_dir) / "metering.db").open()


@router.get(
    "/metering/statements/{contract}",
    dependencies=[requires("metering:read")],
    tags=["metering"],
    summary="A month's usage statement of one contract (JSON, CSV or PDF)",
)
async def statement(
    request: Request,
    contract: str,
    month: str = Query(..., description="YYYY-MM (UTC)"),
    format: str = Query("json", pattern="^(json|csv|pdf)$"),
) -> Response:
    from ..metering import StatementError, build, render

    found = _contracts(request)
    if contract not in found:
        raise HTTPException(404, f"no contract {contract!r}")
    ledger = await _ledger(request)
    try:
        st = build(found[contract], month, await ledger.records(), await ledger.verify())
        data = render(st, format)
    except StatementError as err:
        raise HTTPException(400, str(err)) from None
    finally:
        await ledger.close()
    media = {"json": "application/json", "csv": "text/csv", "pdf": "application/pdf"}[format]
    name = f"{contract}-{month}.{format}"
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


class UsageWindow(BaseModel):
    start: str
    end: str = "now"


@router.post(
    "/metering/usage",
    dependencies=[requires("metering:write")],
    tags=["metering"],
    summary="Measure every contract's usage in a period and append it to the hash-chained ledger",
)
async def record(request: Request, body: UsageWindow) -> list[dict[str, Any]]:
    from ..metering import record_usage

    t0, t1 = _window(body.start, body.end)
    contracts = list(_contracts(request).values())
    ledger = await _ledger(request)
    try:
        recs = await record_usage(platform_of(request).store, ledger, contracts, t0, t1)
    finally:
        await ledger.close()
    return [{"seq": r.seq, "hash": r.hash, **r.body} for r in recs]


@router.get(
    "/metering/verify",
    dependencies=[requires("metering:read")],
    tags=["metering"],
    summary="Verify the usage records' hash chain",
)
async def verify(request: Request) -> dict[str, Any]:
    ledger = await _ledger(request)
    try:
        result = await ledger.verify()
        seq, head = await ledger.head()
    finally:
        await ledger.close()
    return {
        "ok": result.ok,
        "records": result.checked,
        "problems": result.problems,
        "head": {"seq": seq, "hash": head},
    }
