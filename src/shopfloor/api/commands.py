"""Setpoint commands: submit, approve or reject, list, get (with the audit trail).

Expects ``request.app.state.platform.commands`` to be a
:class:`~shopfloor.rules.commands.CommandService`. The user is the signed-in principal
(``requires("commands:write")`` to submit, ``requires("commands:approve")`` to approve or
reject, ``requires("commands:read")`` to read). A refused command is still created (201, state
``refused`` with the reason); an approval by the requester, or of a command not awaiting one,
answers 409; an unknown command 404.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from ..core.errors import CommandRefused
from ..rules.commands import CommandState, UnknownCommand
from .auth import Principal, requires

if TYPE_CHECKING:
    from ..rules.commands import CommandService

router = APIRouter()


def service_of(request: Request) -> CommandService:
    svc = getattr(request.app.state.platform, "commands", None)
    if svc is None:
        raise HTTPException(503, "the command service is not running")
    return svc  # type: ignore[no-any-return]


class Submit(BaseModel):
    asset: str = Field(min_length=1, description="Asset path of the machine")
    tag: str = Field(min_length=1, description="Writable tag (setpoint)")
    value: float = Field(description="Value to write, in the tag's unit")
    reason: str = Field("", description="Why: kept in the audit trail")
    critical: bool = Field(False, description="Ask for a second person's approval even if no interlock does")


class Decision(BaseModel):
    comment: str = Field("", description="Kept in the audit trail")


async def _user(request: Request, who: Principal) -> str:
    """The person acting: a user's name, or for an API token its owner's (two tokens of one
    owner are one person for the two-person rule)."""
    if who.kind != "token":
        return who.name
    name = who.name.removeprefix("token:")
    identity = request.app.state.platform.security.identity
    tokens = await asyncio.to_thread(identity.tokens_sync)
    owners = {t["owner"] for t in tokens if t["name"] == name and not t["revoked"]}
    return owners.pop() if len(owners) == 1 else who.name


@router.post(
    "/commands",
    tags=["commands"],
    status_code=201,
    summary="Request a setpoint write",
    description="Interlocks are checked at once; a critical command waits for approval by a second person.",
)
async def submit(
    body: Submit, request: Request, who: Principal = requires("commands:write")
) -> dict[str, Any]:
    if who.sites is not None and not who.allows_asset(body.asset):
        raise HTTPException(403, f"{who.name} may not command asset {body.asset!r}")
    try:
        return await service_of(request).submit(
            body.asset, body.tag, body.value, await _user(request, who), body.reason, critical=body.critical
        )
    except CommandRefused as err:
        raise HTTPException(422, str(err)) from None


async def _decide(
    request: Request, action: str, command_id: str, body: Decision | None, who: Principal
) -> dict[str, Any]:
    """Approve or reject: 404 for an unknown command, 409 when its state does not allow it."""
    decide = getattr(service_of(request), action)
    try:
        result: dict[str, Any] = await decide(
            command_id, await _user(request, who), body.comment if body else ""
        )
        return result
    except UnknownCommand as err:
        raise HTTPException(404, err.args[0]) from None
    except CommandRefused as err:
        raise HTTPException(409, str(err)) from None


@router.post("/commands/{command_id}/approve", tags=["commands"], summary="Approve a critical command")
async def approve(
    command_id: str,
    request: Request,
    body: Decision | None = None,
    who: Principal = requires("commands:approve"),
) -> dict[str, Any]:
    return await _decide(request, "approve", command_id, body, who)


@router.post("/commands/{command_id}/reject", tags=["commands"], summary="Reject a critical command")
async def reject(
    command_id: str,
    request: Request,
    body: Decision | None = None,
    who: Principal = requires("commands:approve"),
) -> dict[str, Any]:
    return await _decide(request, "reject", command_id, body, who)


@router.get(
    "/commands", dependencies=[requires("commands:read")], tags=["commands"], summary="Commands, newest first"
)
async def list_commands(
    request: Request,
    asset: str | None = Query(None, description="An asset path: that asset and everything below it"),
    state: str | None = Query(None, description="State(s), comma-separated: " + ", ".join(CommandState)),
    limit: int = Query(100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    states = [s.strip() for s in state.split(",") if s.strip()] if state else None
    for s in states or []:
        if s not in CommandState.__members__.values():
            raise HTTPException(422, f"unknown state {s!r}: use {', '.join(CommandState)}")
    return await service_of(request).list(asset=asset, state=states, limit=limit)


@router.get(
    "/commands/{command_id}",
    dependencies=[requires("commands:read")],
    tags=["commands"],
    summary="One command with its audit trail",
)
async def get_command(command_id: str, request: Request) -> dict[str, Any]:
    try:
        return await service_of(request).get(command_id)
    except UnknownCommand as err:
        raise HTTPException(404, err.args[0]) from None
