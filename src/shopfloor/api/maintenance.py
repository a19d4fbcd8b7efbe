"""Maintenance planning and work orders over the API.

``POST /maintenance/plan`` takes the plan file's content as JSON (tasks, calendar, risk limit;
see :mod:`shopfloor.maintenance.planfile`) and returns the schedule with its expected cost next
to run-to-failure and fixed-interval; ``?create_orders=true`` also stores the scheduled work as
work orders, counted from the next full hour. Work orders: list, one, and state changes; a work
order that is done tells the analytics role that the asset's part was renewed (it relearns).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from pydantic import BaseModel, Field

from ..analytics.maintenance.planning import plan
from ..core.errors import ConfigError
from ..maintenance.planfile import parse
from ..maintenance.workorders import STATES, WorkOrderBook, WorkOrderNotFound
from ..security import audit
from .auth import acting_user, requires

router = APIRouter()
HOUR_NS = 3_600_000_000_000


def _book(request: Request) -> WorkOrderBook:
    return WorkOrderBook(request.app.state.platform.state)


@router.post(
    "/maintenance/plan",
    dependencies=[requires("maintenance:write")],
    tags=["maintenance"],
    summary="Plan maintenance into offline hours",
)
async def plan_maintenance(
    request: Request,
    doc: dict[str, Any] = Body(..., description="calendar, task[], risk_limit (the plan file as JSON)"),
    create_orders: bool = Query(False, description="Store the scheduled work as work orders"),
    solver: str = Query("auto", description="auto, cpsat or greedy"),
) -> dict[str, Any]:
    try:
        tasks, calendar, risk = parse(doc, "body")
        result = plan(tasks, calendar, risk_limit=risk, solver=solver)
    except ConfigError as err:
        raise HTTPException(422, str(err)) from None
    out = result.as_dict()
    if create_orders:
        start_ns = (time.time_ns() // HOUR_NS + 1) * HOUR_NS
        user = acting_user(request, "anonymous")
        plan_id = f"api-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        orders = await _book(request).create_from_plan(result, start_ns, plan_id, user)
        out["work_orders"] = [o["id"] for o in orders]
        await audit.record(user, "maintenance.plan", plan_id, detail={"orders": out["work_orders"]})
    return out


@router.get(
    "/workorders", dependencies=[requires("maintenance:read")], tags=["maintenance"], summary="Work orders"
)
async def list_orders(
    request: Request,
    asset: str | None = Query(None, description="This asset and below"),
    state: str | None = Query(None, description="State(s), comma-separated: " + ", ".join(STATES)),
) -> list[dict[str, Any]]:
    states = [s.strip() for s in state.split(",") if s.strip()] if state else []
    try:
        return await _book(request).list(asset, states)
    except ConfigError as err:
        raise HTTPException(422, str(err)) from None


@router.get(
    "/workorders/{order_id}",
    dependencies=[requires("maintenance:read")],
    tags=["maintenance"],
    summary="A work order",
)
async def get_order(request: Request, order_id: int) -> dict[str, Any]:
    try:
        return await _book(request).get(order_id)
    except WorkOrderNotFound as err:
        raise HTTPException(404, str(err)) from None


class Transition(BaseModel):
    state: str = Field(description="released, in_progress, done or cancelled")
    note: str = Field("", description="Free text, kept with the order")
    user: str = Field("", description="Who (ignored when signed in: the signed-in user is recorded)")


@router.post(
    "/workorders/{order_id}/state",
    dependencies=[requires("maintenance:write")],
    tags=["maintenance"],
    summary="Advance a work order",
)
async def advance(request: Request, order_id: int, body: Transition) -> dict[str, Any]:
    user = acting_user(request, body.user or "anonymous")
    try:
        row = await _book(request).transition(order_id, body.state, user, body.note)
    except WorkOrderNotFound as err:
        raise HTTPException(404, str(err)) from None
    except ConfigError as err:
        raise HTTPException(409, str(err)) from None
    await audit.record(user, "workorder.state", str(order_id), detail={"state": body.state})
    scorer = getattr(request.app.state.platform, "scorer", None)
    if body.state == "done" and scorer is not None and row["asset"] in scorer.assets:
        # the part was renewed: the asset's model learns its new normal, and the RUL estimates of
        # the life that just ended calibrate later ones
        scorer.retrain(row["asset"], renewed=True)
        row["analytics"] = "relearning"
    return row
