"""Health, plant model, dead letters and HTTP ingest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Request

from .auth import Principal, requires, visible

if TYPE_CHECKING:
    from ..service import Platform

router = APIRouter()  # every route declares its permission: requires(...) (issue 8)


def platform_of(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


@router.get("/health", tags=["system"], summary="Liveness and component status")
async def health(request: Request, who: Principal = requires("public")) -> dict[str, Any]:
    p = platform_of(request)
    if not who.can("data:read"):  # issue 8: liveness only for callers who may not read data
        return {"status": "ok", "security": p.security.health()}
    return await p.health()


@router.get("/assets", dependencies=[requires("data:read")], tags=["assets"], summary="The ISA-95 asset tree")
async def assets(request: Request) -> dict[str, Any]:
    plant = platform_of(request).plant
    sites = [c for c in plant.tree() if visible(request, c["path"])]  # issue 8: site scoping
    return {"enterprise": plant.enterprise, "name": plant.name, "children": sites}


@router.get(
    "/assets/{path:path}",
    dependencies=[requires("data:read")],
    tags=["assets"],
    summary="One asset with its tags and latest values",
)
async def asset(path: str, request: Request) -> dict[str, Any]:
    p = platform_of(request)
    found = p.plant.get_asset(path.strip("/"))
    if found is None:
        raise HTTPException(404, f"no asset {path!r}")
    latest = {s.tag: s for s in await p.store.latest(found.path) if s.asset == found.path}
    tags = []
    for t in found.tags:
        s = latest.get(t.name)
        tags.append(
            {
                **t.model_dump(),
                "latest": None if s is None else {"ts": s.ts, "value": s.value, "quality": int(s.quality)},
            }
        )
    return {
        "path": found.path,
        "name": found.name,
        "level": found.level.value if found.level else None,
        "kind": found.kind,
        "description": found.description,
        "attributes": found.attributes,
        "parent": found.parent,
        "children": [c.path for c in p.plant.children(found.path)],
        "tags": tags,
    }


@router.get(
    "/tags",
    dependencies=[requires("data:read")],
    tags=["assets"],
    summary="Every tag, optionally of one asset subtree",
)
async def tags(request: Request, asset: str | None = None) -> list[dict[str, Any]]:
    plant = platform_of(request).plant
    out = []
    for a, t in plant.tags():
        if asset and not (a.path == asset or a.path.startswith(asset + "/")):
            continue
        if not visible(request, a.path):  # issue 8: site scoping
            continue
        out.append({"asset": a.path, **t.model_dump()})
    return out


@router.get(
    "/deadletters",
    dependencies=[requires("data:read")],
    tags=["ingest"],
    summary="Rejected inputs with reason and raw payload",
)
async def dead_letters(
    request: Request,
    reason: str | None = None,
    limit: int = Query(100, ge=1, le=10_000),
) -> dict[str, Any]:
    state = platform_of(request).state
    return {
        "counts": await state.dead_letter_counts(),
        "items": await state.dead_letters(limit=limit, reason=reason),
    }


@router.post(
    "/ingest",
    dependencies=[requires("data:write")],
    tags=["ingest"],
    summary="Ingest samples over HTTP",
    description='Body: one object or an array; each object has "asset" plus either '
    '{"ts", "values": {tag: value}} or {"ts", "tag", "value"}. Rejected samples are '
    "dead-lettered with the reason; the response lists them.",
)
async def ingest(request: Request) -> dict[str, Any]:
    p = platform_of(request)
    body = await request.body()
    result = await p.pipeline.handle_http(body, path=str(request.url.path))
    out = result.as_dict() if hasattr(result, "as_dict") else dict(vars(result))
    if out.get("accepted", 0) == 0 and out.get("rejected", 0) > 0:
        raise HTTPException(422, out)
    return out
