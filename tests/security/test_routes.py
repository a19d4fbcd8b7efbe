"""Every route declares its permission, and every role gets exactly what its permissions say."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter
from fastapi.routing import APIRoute, APIWebSocketRoute

from shopfloor.api.app import create_app
from shopfloor.security.rbac import ROLES, role_grants

from .conftest import Secured, secure_platform

# Served by FastAPI/Starlette themselves, not by a shopfloor router: the OpenAPI document and
# its viewers, and the dashboard's static files (public: the page asks for a login).
FRAMEWORK = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/static"}


@dataclass
class Endpoint:
    """One route as served: full path, methods ('WS' for a WebSocket), required permissions."""

    path: str
    methods: set[str]
    permissions: list[str]
    kind: str


def _permissions(dependant: Any, extra: list[Any] = ()) -> list[str]:  # type: ignore[assignment]
    """The permissions required by ``requires(...)`` anywhere in a dependency tree."""
    found: list[str] = []

    def note(call: Any) -> None:
        perm = getattr(call, "permission", None)
        if isinstance(perm, str):
            found.append(perm)

    def walk(dep: Any) -> None:
        for sub in dep.dependencies:
            note(sub.call)
            walk(sub)

    for d in extra:
        note(d.dependency)
    if dependant is not None:
        walk(dependant)
    return found


def endpoints(app: Any) -> list[Endpoint]:
    """Every route of the app, also inside included routers (flattened lazily by newer FastAPI)."""
    out: list[Endpoint] = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            items = [(route, route, [])]
        else:
            extra = list(route.include_context.dependencies)
            items = [(ctx, ctx.original_route, extra) for ctx in contexts()]
        for ctx, original, extra in items:
            if isinstance(original, APIWebSocketRoute):
                prefix = getattr(getattr(route, "include_context", None), "prefix", "")
                path = ctx.path or f"{prefix}{original.path}"
                dependant = getattr(ctx, "dependant", None) or original.dependant
                out.append(Endpoint(path, {"WS"}, _permissions(dependant, extra), "api"))
            elif isinstance(original, APIRoute):
                dependant = getattr(ctx, "dependant", None) or original.dependant
                out.append(Endpoint(ctx.path, set(ctx.methods), _permissions(dependant, extra), "api"))
            else:
                out.append(
                    Endpoint(getattr(original, "path", repr(original)), set(), [], type(original).__name__)
                )
    return out


def test_every_route_declares_a_permission(tmp_path: Path) -> None:
    app = create_app(secure_platform(tmp_path / "data"))
    missing, seen = [], 0
    for e in endpoints(app):
        if e.kind == "api":
            seen += 1
            if not e.permissions:
                missing.append(f"{sorted(e.methods)} {e.path}")
        elif e.path not in FRAMEWORK:
            missing.append(f"{e.kind} {e.path} (not a FastAPI route: cannot declare a permission)")
    assert seen > 30
    assert not missing, "routes without requires(...): " + ", ".join(missing)


def test_a_route_without_permission_is_caught(tmp_path: Path) -> None:
    app = create_app(secure_platform(tmp_path / "data"))
    extra = APIRouter()

    @extra.get("/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    app.include_router(extra, prefix="/api/v1")
    bare = [e for e in endpoints(app) if e.path == "/api/v1/forgotten"]
    assert bare and bare[0].permissions == []
    stream = [e for e in endpoints(app) if e.methods == {"WS"}]
    assert stream and stream[0].path == "/api/v1/stream" and stream[0].permissions == ["data:read"]


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


async def test_rbac_matrix_every_role_against_every_route(secured: Secured) -> None:
    """Each role's token against each HTTP route: 403 exactly where the role lacks the permission."""
    app = create_app(secured.platform)
    checked = 0
    async with httpx.AsyncClient(base_url=secured.base, timeout=30) as client:
        for e in endpoints(app):
            if e.kind != "api" or e.methods == {"WS"}:
                continue
            perms = e.permissions
            for method in sorted(e.methods - {"HEAD"}):
                url = _fill(e.path)
                kwargs: dict[str, Any] = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
                for role in (None, *ROLES):
                    headers = secured.auth(role) if role else {}
                    r = await client.request(method, url, headers=headers, **kwargs)
                    allowed = all(p == "public" or (role is not None and role_grants(role, p)) for p in perms)
                    where = f"{method} {e.path} as {role or 'nobody'}"
                    if allowed:
                        assert r.status_code not in (401, 403), f"{where}: {r.status_code} {r.text[:200]}"
                    else:
                        assert r.status_code == (401 if role is None else 403), f"{where}: {r.status_code}"
                    checked += 1
    assert checked > 150


async def test_websocket_needs_a_credential(secured: Secured) -> None:
    import websockets

    url = secured.base.replace("http", "ws") + "/api/v1/stream"
    try:
        async with websockets.connect(url) as ws:
            await ws.recv()
        refused = False
    except (websockets.InvalidStatus, websockets.ConnectionClosed):
        refused = True
    assert refused, "an anonymous WebSocket got data in the secure profile"
    async with websockets.connect(url, additional_headers=secured.auth("viewer")) as ws:
        assert isinstance(await ws.recv(), str)
    try:
        async with websockets.connect(url, additional_headers=secured.auth("device")) as ws:
            await ws.recv()
        refused = False
    except (websockets.InvalidStatus, websockets.ConnectionClosed):
        refused = True
    assert refused, "a device token (data:write only) read the live stream"
