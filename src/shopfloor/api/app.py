"""The FastAPI application: REST + WebSocket under ``/api/v1``, metrics, dashboard.

OpenAPI is served at ``/docs`` (Swagger UI) and ``/openapi.json``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..core.errors import QueryError, ShopfloorError, StoreUnavailable
from .auth import requires

#: Router modules under ``shopfloor.api``, each exposing ``router`` (mounted under
#: ``/api/v1``). Add a line here to add a router.
ROUTERS: tuple[str, ...] = (
    "system",
    "data",
    "alarms",
    "users",
    "feedback",
    "kpi",
    "models",
    "maintenance",
    "commands",
)

if TYPE_CHECKING:
    from ..service import Platform

WEB = Path(__file__).parent / "web"


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(
        title="shopfloor",
        version="0.1.0",
        description="Industrial IoT platform API: assets, tags, live values, history, ingest, "
        "dead letters, health and metrics.",
    )
    app.state.platform = platform
    for module_name in ROUTERS:
        module = importlib.import_module(f"{__package__}.{module_name}")
        app.include_router(module.router, prefix="/api/v1")

    @app.exception_handler(QueryError)
    async def _query_error(_: Request, err: QueryError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=400)

    @app.exception_handler(StoreUnavailable)
    async def _store_down(_: Request, err: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=503)

    @app.exception_handler(ShopfloorError)
    async def _other(_: Request, err: ShopfloorError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=400)

    @app.get("/metrics", include_in_schema=False, dependencies=[requires("metrics:read")])
    async def metrics() -> Response:
        return Response(generate_latest(platform.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False, dependencies=[requires("public")])
    async def index() -> FileResponse:
        return FileResponse(WEB / "index.html")

    @app.get("/favicon.ico", include_in_schema=False, dependencies=[requires("public")])
    async def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg")

    app.mount("/static", StaticFiles(directory=WEB), name="static")
    return app
