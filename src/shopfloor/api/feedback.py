"""Customer feedback and products in the field over the API (``field:read`` / ``field:write``).

The field service keeps its records in ``<data_dir>/field.db`` and is created on first use.
``POST /feedback`` takes one item or a list; invalid items are rejected one by one (each with
a reason naming the field, counted and kept), the others are accepted; spike alarms raised
by the batch come back in the answer.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query, Request

from ..field.service import FieldError, FieldService, FieldSettings
from .auth import requires

router = APIRouter()
_lock = threading.Lock()


def field_of(request: Request) -> FieldService:
    state = request.app.state
    svc = getattr(state, "field", None)
    if svc is None:
        with _lock:
            svc = getattr(state, "field", None)
            if svc is None:
                data_dir = Path(getattr(state.platform, "data_dir", "data"))
                svc = state.field = FieldService(FieldSettings(db=str(data_dir / "field.db")))
    return svc  # type: ignore[no-any-return]


@router.post(
    "/feedback",
    dependencies=[requires("field:write")],
    tags=["field"],
    summary="Ingest feedback texts (one object or a list)",
)
async def post_feedback(request: Request, body: Any = Body(...)) -> dict[str, Any]:
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else None
    if items is None:
        raise HTTPException(400, "body must be a feedback object or a list of them")
    svc = field_of(request)
    return await asyncio.to_thread(svc.ingest_feedback, items)


@router.get(
    "/feedback",
    dependencies=[requires("field:read")],
    tags=["field"],
    summary="Latest feedback with topic, sentiment, urgency, models, serials and batches",
)
async def get_feedback(
    request: Request,
    topic: str | None = Query(None, description="Only this topic"),
    limit: int = Query(100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    return await asyncio.to_thread(field_of(request).store.feedback, topic, None, limit)


@router.get(
    "/feedback/alarms",
    dependencies=[requires("field:read")],
    tags=["field"],
    summary="Complaint-spike alarms, newest first",
)
async def get_alarms(request: Request, limit: int = Query(100, ge=1, le=10_000)) -> list[dict[str, Any]]:
    return await asyncio.to_thread(field_of(request).store.alarms, limit)


@router.get(
    "/feedback/rejected",
    dependencies=[requires("field:read")],
    tags=["field"],
    summary="Rejected feedback items with the reason",
)
async def get_rejected(request: Request, limit: int = Query(100, ge=1, le=10_000)) -> dict[str, Any]:
    svc = field_of(request)
    return {"counters": dict(svc.counters), "items": await asyncio.to_thread(svc.store.rejected, limit)}


@router.post(
    "/field/units",
    dependencies=[requires("field:write")],
    tags=["field"],
    summary="Record units in the field (serial, batch, ship_ns, usage_hours, failed, ...)",
)
async def post_units(request: Request, body: list[dict[str, Any]] = Body(...)) -> dict[str, int]:
    bad = [i for i, u in enumerate(body) if not isinstance(u.get("serial"), str) or not u.get("serial")]
    if bad:
        raise HTTPException(422, f"units {bad[:10]} have no serial")
    await asyncio.to_thread(field_of(request).add_units, body)
    return {"accepted": len(body)}


@router.get(
    "/field/trace/{serial}",
    dependencies=[requires("field:read")],
    tags=["field"],
    summary="Serial number -> batch, machines, settings, material and quality",
)
async def get_trace(request: Request, serial: str) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(field_of(request).trace, serial)
    except FieldError as err:
        raise HTTPException(404, str(err)) from None


@router.get(
    "/field/report",
    dependencies=[requires("field:read")],
    tags=["field"],
    summary="Batches with short field life or many complaints, causes, life model, forecast",
)
async def get_report(request: Request, months: int = Query(6, ge=1, le=60)) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(field_of(request).batch_report, None, months)
    except FieldError as err:
        raise HTTPException(409, str(err)) from None
