"""Login, users, API tokens, devices and the audit log (issue 8).

The dashboard signs in with ``POST /auth/login`` (JSON ``{"username", "password"}``): the answer
sets an HttpOnly, SameSite=Strict session cookie (Secure under TLS) and returns the CSRF token to
send in ``X-CSRF-Token``. Scripts and machines use API tokens (``Authorization: Bearer sft_...``),
issued by an admin with ``POST /tokens`` or ``shopfloor tokens add``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from ..security.identity import AuthError, IdentityError
from ..security.rbac import ROLES, Principal
from .auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, requires, security_of

router = APIRouter()

Role = Literal["viewer", "operator", "engineer", "admin", "device"]


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    role: Role
    sites: list[str] | None = None


class UserChange(BaseModel):
    role: Role | None = None
    sites: list[str] | None = Field(None, description="Sites the user may see; [] for none")
    all_sites: bool = Field(False, description="true: every site (clears sites)")
    password: str | None = Field(None, max_length=1024)
    disabled: bool | None = None


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role
    sites: list[str] | None = None
    scopes: list[str] | None = Field(None, description="Permission patterns narrowing the role")
    ttl_days: float | None = Field(365.0, gt=0)


class NewDevice(BaseModel):
    id: str = Field(min_length=1, max_length=128)
    topic_prefix: str | None = None
    site: str | None = None
    description: str = ""


def _bad(err: IdentityError) -> HTTPException:
    return HTTPException(409 if "exists" in str(err) else 422, str(err))


def _me(who: Principal, request: Request) -> dict[str, Any]:
    sec = security_of(request)
    return {
        "authenticated": who.role in ROLES,
        "name": who.name,
        "role": who.role,
        "kind": who.kind,
        "sites": who.sites,
        "permissions": who.permissions(),
        "csrf": who.csrf,
        "csrf_header": CSRF_HEADER,
        "profile": sec.settings.profile,
        "secured": not sec.demo,
    }


@router.post("/auth/login", dependencies=[requires("public")], tags=["auth"], summary="Sign in (dashboard)")
async def login(body: Login, request: Request, response: Response) -> dict[str, Any]:
    sec = security_of(request)
    client = request.client.host if request.client else ""
    try:
        who = await sec.identity.login(body.username, body.password, client)
    except AuthError as err:
        headers = {"Retry-After": str(max(1, round(err.retry_after_s)))} if err.retry_after_s else None
        raise HTTPException(429 if err.retry_after_s else 401, str(err), headers=headers) from None
    session = await sec.identity.new_session(who.name)
    secure = sec.settings.cookie_secure
    if secure is None:
        secure = sec.tls or request.url.scheme == "https"
    max_age = int(sec.settings.session_ttl_s)
    opts: dict[str, Any] = {"max_age": max_age, "secure": secure, "samesite": "strict", "path": "/"}
    response.set_cookie(SESSION_COOKIE, session.id, httponly=True, **opts)
    response.set_cookie(CSRF_COOKIE, session.csrf, httponly=False, **opts)
    who = Principal(name=who.name, role=who.role, sites=who.sites, session_id=session.id, csrf=session.csrf)
    return _me(who, request)


@router.post("/auth/logout", dependencies=[requires("public")], tags=["auth"], summary="Sign out")
async def logout(request: Request, response: Response) -> dict[str, Any]:
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        await security_of(request).identity.end_session(sid)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return {"signed_out": True}


@router.get("/auth/me", tags=["auth"], summary="Who am I: role, sites, permissions, CSRF token")
async def me(request: Request, who: Principal = requires("public")) -> dict[str, Any]:
    found = who if who.role in ROLES else None
    if found is None:
        sec = security_of(request)
        return {"authenticated": False, "profile": sec.settings.profile, "secured": not sec.demo}
    return _me(found, request)


# -- users ---------------------------------------------------------------------------------------


@router.get("/users", dependencies=[requires("users:read")], tags=["users"], summary="Every user")
async def list_users(request: Request) -> list[dict[str, Any]]:
    return await asyncio.to_thread(security_of(request).identity.users_sync)


@router.post("/users", status_code=201, tags=["users"], summary="Create a user")
async def add_user(
    body: NewUser, request: Request, who: Principal = requires("users:write")
) -> dict[str, Any]:
    ident = security_of(request).identity
    try:
        await asyncio.to_thread(
            ident.add_user_sync, body.name, body.password, body.role, body.sites, who.name
        )
    except IdentityError as err:
        raise _bad(err) from None
    return {"name": body.name, "role": body.role, "sites": body.sites}


@router.patch("/users/{name}", tags=["users"], summary="Change role, sites, password or disable")
async def change_user(
    name: str, body: UserChange, request: Request, who: Principal = requires("users:write")
) -> dict[str, Any]:
    ident = security_of(request).identity
    sites: list[str] | bool | None = (
        None if body.all_sites else (body.sites if body.sites is not None else False)
    )
    try:
        await asyncio.to_thread(
            lambda: ident.set_user_sync(
                name,
                role=body.role,
                sites=sites,
                password=body.password,
                disabled=body.disabled,
                actor=who.name,
            )
        )
    except IdentityError as err:
        raise HTTPException(404 if "no user" in str(err) else 422, str(err)) from None
    return {"name": name, "changed": True}


@router.delete("/users/{name}", status_code=204, tags=["users"], summary="Delete a user")
async def delete_user(name: str, request: Request, who: Principal = requires("users:write")) -> None:
    try:
        await asyncio.to_thread(security_of(request).identity.delete_user_sync, name, who.name)
    except IdentityError as err:
        raise HTTPException(404, str(err)) from None


# -- API tokens ----------------------------------------------------------------------------------


@router.get("/tokens", dependencies=[requires("users:read")], tags=["users"], summary="Every API token")
async def list_tokens(request: Request) -> list[dict[str, Any]]:
    return await asyncio.to_thread(security_of(request).identity.tokens_sync)


@router.post("/tokens", status_code=201, tags=["users"], summary="Issue an API token (secret shown once)")
async def add_token(
    body: NewToken, request: Request, who: Principal = requires("users:write")
) -> dict[str, Any]:
    ident = security_of(request).identity
    try:
        tid, secret = await asyncio.to_thread(
            lambda: ident.new_token_sync(
                body.name,
                who.name,
                body.role,
                sites=body.sites,
                scopes=body.scopes,
                ttl_days=body.ttl_days,
                actor=who.name,
            )
        )
    except IdentityError as err:
        raise _bad(err) from None
    return {"id": tid, "token": secret, "role": body.role}


@router.delete("/tokens/{token_id}", status_code=204, tags=["users"], summary="Revoke an API token")
async def revoke_token(token_id: str, request: Request, who: Principal = requires("users:write")) -> None:
    try:
        await asyncio.to_thread(security_of(request).identity.revoke_token_sync, token_id, who.name)
    except IdentityError as err:
        raise HTTPException(404, str(err)) from None


# -- devices ---------------------------------------------------------------------------------------


@router.get("/devices", dependencies=[requires("devices:read")], tags=["devices"], summary="Every device")
async def list_devices(request: Request) -> list[dict[str, Any]]:
    return await asyncio.to_thread(security_of(request).devices.list)


@router.post("/devices", status_code=201, tags=["devices"], summary="Provision a device (token shown once)")
async def add_device(
    body: NewDevice, request: Request, who: Principal = requires("devices:write")
) -> dict[str, Any]:
    reg = security_of(request).devices
    try:
        token = await asyncio.to_thread(
            lambda: reg.provision(
                body.id, body.topic_prefix, site=body.site, description=body.description, actor=who.name
            )
        )
    except IdentityError as err:
        raise _bad(err) from None
    device = await asyncio.to_thread(reg.get, body.id)
    return {"id": body.id, "token": token, "topic_prefix": device.topic_prefix if device else None}


@router.delete("/devices/{device_id}", status_code=204, tags=["devices"], summary="Revoke a device")
async def revoke_device(device_id: str, request: Request, who: Principal = requires("devices:write")) -> None:
    try:
        await asyncio.to_thread(security_of(request).devices.revoke, device_id, who.name)
    except IdentityError as err:
        raise HTTPException(404, str(err)) from None


# -- audit -----------------------------------------------------------------------------------------


@router.get(
    "/audit", dependencies=[requires("audit:read")], tags=["audit"], summary="Audit records, newest first"
)
async def audit_records(
    request: Request, limit: int = Query(100, ge=1, le=10_000), action: str | None = None
) -> list[dict[str, Any]]:
    return await asyncio.to_thread(security_of(request).audit.records, limit, action)


@router.get(
    "/audit/verify", dependencies=[requires("audit:read")], tags=["audit"], summary="Verify the chain"
)
async def audit_verify(request: Request) -> dict[str, Any]:
    result = await asyncio.to_thread(security_of(request).audit.verify)
    return result.as_dict()


@router.get(
    "/security/events",
    dependencies=[requires("security:read")],
    tags=["audit"],
    summary="Recent security events of the behaviour monitor, newest first",
)
async def security_events(
    request: Request, limit: int = Query(100, ge=1, le=1000), kind: str | None = None
) -> dict[str, Any]:
    monitor = security_of(request).monitor
    return {"counts": dict(monitor.counts), "events": monitor.recent(limit, kind)}
