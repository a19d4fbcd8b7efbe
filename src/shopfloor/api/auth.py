"""Authentication and authorization for every API route: ``requires(permission)``.

Every route declares the one permission it needs::

    from .auth import requires

    @router.post("/rules", dependencies=[requires("rules:write")])
    async def create_rule(...): ...

    @router.post("/commands")
    async def send(body: Command, who: Principal = requires("commands:write")):  # the caller
        ...  # who.name, who.role, who.sites, who.allows_asset(path)

``requires(...)`` is itself a FastAPI ``Depends`` (and ``Depends(requires(...))`` works too). A
test enumerates every route of ``create_app`` and fails on any without one; a route open to
everyone says so with ``requires("public")``. Inside a route, ``visible(request, asset_path)``
applies the caller's site scoping to what it lists, and ``acting_user(request, claimed)`` is the
name to journal (the signed-in user, never a name from the request body).

Permissions (``area:verb``; see :data:`shopfloor.security.rbac.PERMISSIONS`):

====================  ===========================================================  ============
permission            what                                                         lowest role
====================  ===========================================================  ============
``public``            login page, liveness                                         anyone
``data:read``         assets, tags, latest, history, export, live stream, dead      viewer
                      letters
``alarms:read``       alarm list, journal, metrics                                 viewer
``rules:read``        rules                                                        viewer
``kpi:read``          OEE, energy and other KPIs                                   viewer
``metrics:read``      Prometheus ``/metrics``                                      viewer
``commands:read``     commands sent to machines                                    viewer
``alarms:ack``        acknowledge, shelve, unshelve, comment                       operator
``commands:approve``  approve a command that needs a second person                 operator
``alarms:manage``     out of service / return to service                           engineer
``rules:write``       create, change, delete rules                                 engineer
``commands:write``    issue commands to machines                                   engineer
``models:write``      train, deploy, retire models                                 engineer
``loops:write``       control loops and setpoints                                  engineer
``data:write``        HTTP ingest (also the ``device`` role of machine tokens)     engineer
``users:read/write``  users and API tokens                                         admin
``devices:read/write`` device registry and credentials                             admin
``keys:write``        PKI, signing keys                                            admin
``audit:read``        audit log and its verification                               admin
``admin``             everything                                                   admin
====================  ===========================================================  ============

Any other ``area:read`` is granted to viewers and up, any other ``area:write`` to engineers,
except the admin-only areas (users, devices, keys, audit, pki, admin).

Who is asking, in order: ``Authorization: Bearer sft_...`` (an API token), the dashboard's
session cookie, and, only in the ``demo`` security profile on a loopback address, an anonymous
admin. Requests authenticated by the session cookie that change something (POST, PUT, PATCH,
DELETE) must carry the session's CSRF token in ``X-CSRF-Token``; WebSockets opened with the
cookie must come from the same origin. Principals limited to some sites get 403 for an asset
(``?asset=`` or ``/assets/{path}``) outside them. Unauthenticated: 401; not allowed: 403; a
WebSocket is closed with code 1008 instead.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import HTTPException, WebSocketException
from fastapi.params import Depends
from starlette.requests import HTTPConnection

from ..security.rbac import PUBLIC, Principal, check_permission_name

if TYPE_CHECKING:
    from ..security.manager import Security

__all__ = [
    "ANONYMOUS",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "Principal",
    "Requirement",
    "acting_user",
    "caller",
    "requires",
    "visible",
]

SESSION_COOKIE = "shopfloor_session"
CSRF_COOKIE = "shopfloor_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: The demo profile's user: an admin, only ever on a loopback address.
ANONYMOUS = Principal(name="anonymous", role="admin", kind="anonymous")
_NOBODY = Principal(name="nobody", role="none", kind="anonymous")
_KEY = "shopfloor.principal"


def security_of(conn: HTTPConnection) -> Security:
    return conn.app.state.platform.security  # type: ignore[no-any-return]


def _deny(conn: HTTPConnection, status: int, detail: str) -> Exception:
    if conn.scope["type"] == "websocket":
        return WebSocketException(code=1008, reason=detail[:120])
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status, detail, headers=headers)


async def authenticate(conn: HTTPConnection) -> Principal | None:
    """The caller (token, session, or the demo's anonymous admin); None when nobody.

    Raises 401 for a bearer token that is not valid (expired, revoked, unknown).
    """
    if _KEY in conn.scope:
        return conn.scope[_KEY]  # type: ignore[no-any-return]
    sec = security_of(conn)
    found: Principal | None = None
    auth = conn.headers.get("authorization")
    if auth:
        scheme, _, cred = auth.partition(" ")
        if scheme.lower() != "bearer" or not cred.strip():
            raise _deny(conn, 401, "Authorization header must be 'Bearer <token>'")
        found = await sec.identity.token_principal(cred.strip())
        if found is None:
            raise _deny(conn, 401, "API token is not valid (unknown, expired or revoked)")
    else:
        sid = conn.cookies.get(SESSION_COOKIE)
        if sid:
            found = await sec.identity.session_principal(sid)
        if found is None and sec.demo:
            found = ANONYMOUS
    conn.scope[_KEY] = found
    return found


def caller(conn: HTTPConnection) -> Principal | None:
    """The principal a ``requires`` dependency already resolved for this request (None if none)."""
    return conn.scope.get(_KEY)


def acting_user(conn: HTTPConnection, claimed: str) -> str:
    """The name to journal: the signed-in user's, or ``claimed`` for the demo's anonymous user."""
    who = caller(conn)
    return claimed if who is None or who.kind == "anonymous" else who.name


def _same_origin(conn: HTTPConnection) -> bool:
    origin = conn.headers.get("origin")
    if not origin:
        return True  # not a browser
    return urlsplit(origin).netloc == conn.headers.get("host", "")


def visible(conn: HTTPConnection, asset_path: str) -> bool:
    """Whether the caller may see ``asset_path`` (site scoping); True when nobody is scoped."""
    who = caller(conn)
    return who is None or who.allows_asset(asset_path)


#: Routes that a site-scoped principal must narrow with ``?asset=`` / may not use at all.
ASSET_REQUIRED = ("/api/v1/stream", "/api/v1/export")
UNSCOPED_ONLY = ("/api/v1/deadletters",)


def _check_sites(conn: HTTPConnection, who: Principal) -> None:
    if who.sites is None:
        return
    path = conn.url.path
    if path in UNSCOPED_ONLY:
        raise _deny(conn, 403, f"{who.name} is limited to sites {list(who.sites)}: {path} spans every site")
    if path in ASSET_REQUIRED and not conn.query_params.get("asset"):
        raise _deny(
            conn, 403, f"{who.name} is limited to sites {list(who.sites)}: give ?asset= in one of them"
        )
    assets = [conn.query_params.get("asset")]
    if "/assets/" in conn.url.path:
        assets.append(conn.path_params.get("path"))
    for a in assets:
        if a and not who.allows_asset(a):
            raise _deny(conn, 403, f"{who.name} may not access asset {a!r} (sites {list(who.sites)})")


class Requirement(Depends):
    """A ``Depends`` that checks one permission and returns the :class:`Principal`."""

    @property
    def permission(self) -> str:
        return self.dependency.permission  # type: ignore[union-attr]

    async def __call__(self, conn: HTTPConnection) -> Principal:
        return await self.dependency(conn)  # type: ignore[misc, no-any-return]


def requires(permission: str) -> Any:
    """A FastAPI dependency: the caller must hold ``permission``; resolves to the Principal."""
    check_permission_name(permission)

    async def check(conn: HTTPConnection) -> Principal:
        if permission == PUBLIC:
            try:
                return await authenticate(conn) or _NOBODY
            except (HTTPException, WebSocketException):
                return _NOBODY
        who = await authenticate(conn)
        if who is None:
            raise _deny(conn, 401, "not signed in: log in, or send 'Authorization: Bearer <API token>'")
        if not who.can(permission):
            raise _deny(conn, 403, f"{who.name} (role {who.role}) lacks permission {permission!r}")
        if who.session_id is not None:
            if conn.scope["type"] == "http" and conn.scope["method"] not in SAFE_METHODS:
                sent = conn.headers.get(CSRF_HEADER.lower(), "")
                if not (who.csrf and secrets.compare_digest(sent, who.csrf)):
                    raise _deny(conn, 403, f"missing or wrong CSRF token (header {CSRF_HEADER})")
            if conn.scope["type"] == "websocket" and not _same_origin(conn):
                raise _deny(conn, 403, "cross-origin WebSocket refused")
        _check_sites(conn, who)
        return who

    check.permission = permission  # type: ignore[attr-defined]
    check.__name__ = f"requires_{permission.replace(':', '_')}"
    return Requirement(dependency=check)
