"""Alarms (ISA-18.2), their journal, EEMUA 191 metrics, and rules defined over the API.

Expects ``request.app.state.platform.rules`` to be a
:class:`~shopfloor.rules.engine.RuleEngine`. Unknown alarms and rules answer 404, an action
the alarm's state does not allow 409, a rule with a bad field 422 naming the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from pydantic import BaseModel, Field, ValidationError

from ..core.errors import AlarmError, ConfigError
from ..rules.alarms import Event, State
from ..rules.engine import UnknownAlarm
from ..rules.model import Priority
from ..security import audit
from .auth import acting_user, requires, visible

if TYPE_CHECKING:
    from ..rules.engine import RuleEngine

router = APIRouter()  # every route declares its permission: requires(...) (issue 8)


def engine_of(request: Request) -> RuleEngine:
    engine = getattr(request.app.state.platform, "rules", None)
    if engine is None:
        raise HTTPException(503, "the rule engine is not running")
    return engine  # type: ignore[no-any-return]


class Action(BaseModel):
    """Who takes an alarm action, and why."""

    user: str = Field(min_length=1, description="The operator taking the action")
    comment: str = Field("", description="Free text, kept in the journal")


class ShelveAction(Action):
    duration: str | float | None = Field(
        None, description="How long: '30m', '2h' or seconds; default and maximum: the rule's max_shelve"
    )


def _split(raw: str | None) -> list[str] | None:
    return [p.strip() for p in raw.split(",") if p.strip()] if raw else None


@router.get(
    "/alarms",
    dependencies=[requires("alarms:read")],
    tags=["alarms"],
    summary="Alarms, most urgent and newest first",
)
async def list_alarms(
    request: Request,
    state: str | None = Query(None, description="State(s), comma-separated: " + ", ".join(State)),
    priority: str | None = Query(None, description="Priority(ies), comma-separated: " + ", ".join(Priority)),
    asset: str | None = Query(None, description="An asset path: that asset and everything below it"),
) -> list[dict[str, Any]]:
    states, prios = _split(state), _split(priority)
    for s in states or []:
        if s not in State.__members__.values():
            raise HTTPException(422, f"unknown state {s!r}: use {', '.join(State)}")
    for p in prios or []:
        if p not in Priority.__members__.values():
            raise HTTPException(422, f"unknown priority {p!r}: use {', '.join(Priority)}")
    rows = engine_of(request).alarms(state=states, priority=prios, asset=asset)
    return [a for a in rows if visible(request, a["asset"])]  # issue 8: site scoping


@router.get(
    "/alarms/journal",
    dependencies=[requires("alarms:read")],
    tags=["alarms"],
    summary="Every alarm transition and action, newest first",
)
async def alarm_journal(
    request: Request,
    alarm_id: str | None = None,
    asset: str | None = Query(None, description="An asset path: that asset and everything below it"),
    event: str | None = Query(None, description="One event: " + ", ".join(Event)),
    since: int | None = Query(None, description="From this time (epoch ns)"),
    until: int | None = Query(None, description="Before this time (epoch ns)"),
    limit: int = Query(1000, ge=1, le=100_000),
) -> list[dict[str, Any]]:
    rows = await engine_of(request).journal(
        alarm_id=alarm_id, asset=asset, event=event, since=since, until=until, limit=limit
    )
    return [j for j in rows if visible(request, j["asset"])]  # issue 8: site scoping


@router.get(
    "/alarms/metrics",
    dependencies=[requires("alarms:read")],
    tags=["alarms"],
    summary="Alarm-system performance per EEMUA 191",
)
async def alarm_metrics(
    request: Request,
    window: str = Query("10m", description="Rate window (EEMUA: 10 minutes)"),
    period: str = Query("24h", description="Period the averages and peaks cover"),
    operators: int | None = Query(None, ge=1, description="Operators sharing the alarms"),
) -> dict[str, Any]:
    try:
        return await engine_of(request).metrics(window=window, period=period, operators=operators)
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    except AlarmError as err:
        raise HTTPException(422, str(err)) from None


@router.get(
    "/alarms/{alarm_id}", dependencies=[requires("alarms:read")], tags=["alarms"], summary="One alarm"
)
async def get_alarm(alarm_id: str, request: Request) -> dict[str, Any]:
    try:
        alarm = engine_of(request).alarm(alarm_id)
    except UnknownAlarm as err:
        raise HTTPException(404, err.args[0]) from None
    if not visible(request, alarm["asset"]):  # issue 8: site scoping
        raise HTTPException(403, f"alarm {alarm_id!r} is of a site you may not see")
    return alarm


async def _act(
    request: Request, alarm_id: str, event: Event, body: Action, duration: str | float | None = None
) -> dict[str, Any]:
    try:
        if not visible(request, engine_of(request).alarm(alarm_id)["asset"]):  # issue 8: site scoping
            raise HTTPException(403, f"alarm {alarm_id!r} is of a site you may not act on")
        user = acting_user(request, body.user)  # issue 8: the signed-in user, not the claimed one
        return await engine_of(request).act(alarm_id, event, user, body.comment, duration)
    except UnknownAlarm as err:
        raise HTTPException(404, err.args[0]) from None
    except AlarmError as err:
        raise HTTPException(409, str(err)) from None
    except ValueError as err:  # a duration that does not parse
        raise HTTPException(422, str(err)) from None


@router.post(
    "/alarms/{alarm_id}/ack", dependencies=[requires("alarms:ack")], tags=["alarms"], summary="Acknowledge"
)
async def ack(alarm_id: str, body: Action, request: Request) -> dict[str, Any]:
    return await _act(request, alarm_id, Event.ACK, body)


@router.post(
    "/alarms/{alarm_id}/shelve",
    dependencies=[requires("alarms:ack")],
    tags=["alarms"],
    summary="Shelve for a while",
)
async def shelve(alarm_id: str, body: ShelveAction, request: Request) -> dict[str, Any]:
    return await _act(request, alarm_id, Event.SHELVE, body, body.duration)


@router.post(
    "/alarms/{alarm_id}/unshelve", dependencies=[requires("alarms:ack")], tags=["alarms"], summary="Unshelve"
)
async def unshelve(alarm_id: str, body: Action, request: Request) -> dict[str, Any]:
    return await _act(request, alarm_id, Event.UNSHELVE, body)


@router.post(
    "/alarms/{alarm_id}/comment",
    dependencies=[requires("alarms:ack")],
    tags=["alarms"],
    summary="Add a comment to the journal",
)
async def comment(alarm_id: str, body: Action, request: Request) -> dict[str, Any]:
    return await _act(request, alarm_id, Event.COMMENT, body)


@router.post(
    "/alarms/{alarm_id}/out-of-service",
    dependencies=[requires("alarms:manage")],
    tags=["alarms"],
    summary="Take out of service",
)
async def out_of_service(alarm_id: str, body: Action, request: Request) -> dict[str, Any]:
    return await _act(request, alarm_id, Event.REMOVE, body)


@router.post(
    "/alarms/{alarm_id}/return-to-service",
    dependencies=[requires("alarms:manage")],
    tags=["alarms"],
    summary="Return to service",
)
async def return_to_service(alarm_id: str, body: Action, request: Request) -> dict[str, Any]:
    return await _act(request, alarm_id, Event.RESTORE, body)


# -- rules ------------------------------------------------------------------------------------------


@router.get(
    "/rules",
    dependencies=[requires("rules:read")],
    tags=["rules"],
    summary="Every rule, from files and from the API",
)
async def list_rules(request: Request) -> list[dict[str, Any]]:
    return engine_of(request).rules_view()


@router.get("/rules/{rule_id}", dependencies=[requires("rules:read")], tags=["rules"], summary="One rule")
async def get_rule(rule_id: str, request: Request) -> dict[str, Any]:
    engine = engine_of(request)
    rule = engine.rule(rule_id)
    if rule is None:
        raise HTTPException(404, f"no rule {rule_id!r}")
    return engine.rule_view(rule)


@router.post(
    "/rules",
    dependencies=[requires("rules:write")],
    tags=["rules"],
    status_code=201,
    summary="Add or replace a rule",
    description="Body: a rule, the same fields as a [[rule]] table of a rules file (see docs/alarms.md). "
    "A bad field answers 422 naming it; a rule id from a rules file answers 409.",
)
async def add_rule(
    request: Request,
    body: dict[str, Any] = Body(
        examples=[
            {
                "id": "cutter_force_high",
                "asset": "riverside/converting/line1/cutter",
                "tag": "cutting_force",
                "kind": "high",
                "limit": 4200,
                "deadband": 100,
                "on_delay": "5s",
                "priority": "high",
            }
        ]
    ),
    user: str = Query("", description="Who adds the rule"),
) -> dict[str, Any]:
    engine = engine_of(request)
    try:
        rule = await engine.add_rule(body, user=acting_user(request, user))
    except ValidationError as err:
        raise HTTPException(422, _errors(err)) from None
    except ConfigError as err:
        message = str(err)
        field = message.split("field '", 1)[1].split("'", 1)[0] if "field '" in message else "rule"
        raise HTTPException(422, [{"loc": ["body", field], "msg": message, "type": "value_error"}]) from None
    except AlarmError as err:
        raise HTTPException(409, str(err)) from None
    await audit.record(acting_user(request, user), "rule.change", rule.id, detail={"body": body})  # issue 8
    return engine.rule_view(rule)


def _errors(err: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors in FastAPI's 422 shape, with the field named in ``msg`` too."""
    out = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        field = ".".join(loc) or "rule"
        msg = e["msg"].removeprefix("Value error, ")
        out.append({"loc": ["body", *loc], "msg": f"field {field!r}: {msg}", "type": e["type"]})
    return out


@router.delete(
    "/rules/{rule_id}",
    dependencies=[requires("rules:write")],
    tags=["rules"],
    status_code=204,
    summary="Delete a rule added over the API",
)
async def delete_rule(rule_id: str, request: Request, user: str = Query("")) -> None:
    try:
        await engine_of(request).delete_rule(rule_id, user=acting_user(request, user))
    except UnknownAlarm:
        raise HTTPException(404, f"no rule {rule_id!r}") from None
    except AlarmError as err:
        raise HTTPException(409, str(err)) from None
    await audit.record(acting_user(request, user), "rule.delete", rule_id)  # issue 8
