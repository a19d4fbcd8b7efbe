"""Latest values, history with aggregation, and the live WebSocket stream."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from ..core.clock import NS, now_ns, parse_duration, parse_when
from ..core.errors import QueryError
from ..core.sample import Sample
from .auth import requires, visible
from .system import platform_of

router = APIRouter()  # every route declares its permission: requires(...) (issue 8)

# Automatic bucket choice aims at about this many points per series (a chart's width).
TARGET_POINTS = 1000
NICE_BUCKETS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


def _sample_json(s: Sample) -> dict[str, Any]:
    return {"asset": s.asset, "tag": s.tag, "ts": s.ts, "value": s.value, "quality": int(s.quality)}


def _time(raw: str | None, default: int, name: str) -> int:
    """Absolute (ISO, epoch) or relative to now ('-6h')."""
    if raw is None or raw == "":
        return default
    try:
        return parse_when(raw)
    except ValueError as err:
        raise HTTPException(400, f"parameter {name}: {err}") from None


def auto_bucket(start: int, end: int, target: int = TARGET_POINTS) -> int:
    """A round bucket width giving at most about ``target`` buckets.

    >>> auto_bucket(0, 6 * 3600 * NS) // NS
    30
    """
    span_s = max(1, (end - start) // NS)
    for b in NICE_BUCKETS_S:
        if span_s / b <= target:
            return b * NS
    return (span_s // target + 1) * NS


@router.get(
    "/latest",
    dependencies=[requires("data:read")],
    tags=["data"],
    summary="Latest value of every series (optionally of one subtree)",
)
async def latest(request: Request, asset: str | None = None) -> list[dict[str, Any]]:
    samples = await platform_of(request).store.latest(asset)
    return [_sample_json(s) for s in samples if visible(request, s.asset)]  # issue 8: site scoping


@router.get(
    "/history",
    dependencies=[requires("data:read")],
    tags=["data"],
    summary="History of one tag, raw or aggregated per time bucket",
)
async def history(
    request: Request,
    asset: str,
    tag: str,
    start: str | None = Query(None, description="ISO time, epoch, or relative like -6h (default -1h)"),
    end: str | None = Query(None, description="ISO time, epoch, relative, or 'now' (default now)"),
    bucket: str | None = Query(None, description="'raw', 'auto' (default) or a width like 1m, 10s"),
    agg: str = Query("avg,min,max,count", description="comma-separated: avg,min,max,count,first,last,sum"),
    limit: int = Query(100_000, ge=1, le=1_000_000),
) -> dict[str, Any]:
    p = platform_of(request)
    if p.plant.get_tag(asset, tag) is None:
        raise HTTPException(404, f"asset {asset!r} has no tag {tag!r}")
    t_end = _time(end, now_ns(), "end")
    t_start = _time(start, t_end - 3600 * NS, "start")
    if t_start >= t_end:
        raise HTTPException(400, "parameter start must be before end")
    if bucket == "raw":
        rows = await p.store.history(asset, tag, t_start, t_end, limit=limit)
        return {
            "asset": asset,
            "tag": tag,
            "start": t_start,
            "end": t_end,
            "bucket": None,
            "points": [{"ts": s.ts, "value": s.value, "quality": int(s.quality)} for s in rows],
        }
    if bucket in (None, "", "auto"):
        width = auto_bucket(t_start, t_end)
    else:
        try:
            width = parse_duration(bucket)
        except ValueError as err:
            raise HTTPException(400, f"parameter bucket: {err}") from None
    aggs = [a.strip() for a in agg.split(",") if a.strip()]
    try:
        rows_agg = await p.store.aggregate(asset, tag, t_start, t_end, width, aggs)
    except QueryError as err:
        raise HTTPException(400, str(err)) from None
    return {"asset": asset, "tag": tag, "start": t_start, "end": t_end, "bucket": width, "points": rows_agg}


@router.get(
    "/export",
    dependencies=[requires("data:read")],
    tags=["data"],
    summary="Download samples as CSV or Parquet",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}},
)
async def export(
    request: Request,
    format: str = Query("csv", pattern="^(csv|parquet)$", description="csv or parquet"),
    start: str | None = Query(None, description="ISO time, epoch, or relative like -6h (default -1h)"),
    end: str | None = Query(None, description="ISO time, epoch, relative, or 'now' (default now)"),
    asset: str | None = Query(None, description="Only this asset and the assets below it"),
) -> FileResponse:
    """Columns: asset, tag, time (ISO 8601 UTC), value, quality, text (value of str tags)."""
    p = platform_of(request)
    t_end = _time(end, now_ns(), "end")
    t_start = _time(start, t_end - 3600 * NS, "start")
    if t_start >= t_end:
        raise HTTPException(400, "parameter start must be before end")
    tmp = Path(tempfile.mkdtemp(prefix="shopfloor-export-"))
    target = tmp / f"shopfloor-export.{format}"
    try:
        await p.store.export(target, format, t_start, t_end, asset)  # type: ignore[arg-type]
    except QueryError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HTTPException(400, str(err)) from None
    media = "text/csv" if format == "csv" else "application/vnd.apache.parquet"
    return FileResponse(
        target,
        media_type=media,
        filename=target.name,
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )


@router.websocket("/stream", dependencies=[requires("data:read")])
async def stream(websocket: WebSocket, asset: str | None = None) -> None:
    """Live values: after connecting, the server sends JSON arrays of changed samples.

    ``?asset=site/area`` limits the stream to that asset subtree.
    """
    p = websocket.app.state.platform
    await websocket.accept()
    client = p.live.connect(asset)
    try:
        initial = await p.store.latest(asset)
        await websocket.send_json([_sample_json(s) for s in initial])
        receiver = asyncio.create_task(_drain_incoming(websocket))
        while not receiver.done():
            getter = asyncio.create_task(client.queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await websocket.send_json(getter.result())
            else:
                getter.cancel()
        receiver.cancel()
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        p.live.disconnect(client)
        with contextlib.suppress(Exception):
            await websocket.close()


async def _drain_incoming(websocket: WebSocket) -> None:
    """Read (and ignore) client messages so a disconnect is noticed."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()
