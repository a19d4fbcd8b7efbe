"""Asset health and the model registry: anomaly scores per asset, model versions, retraining.

Expects ``request.app.state.platform.scorer`` (:class:`~shopfloor.scoring.role.StreamingScorer`)
and ``.models`` (:class:`~shopfloor.scoring.registry.ModelRegistry`). The live score and
health of an asset are also ordinary tags (``anomaly_score``, ``health``, ``anomaly_top``)
under ``/latest`` and ``/history``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from ..core.errors import ShopfloorError
from ..scoring.registry import ModelNotFound
from ..security import audit
from .auth import acting_user, requires

router = APIRouter()


def _platform(request: Request) -> Any:
    return request.app.state.platform


@router.get(
    "/health/assets",
    dependencies=[requires("data:read")],
    tags=["health"],
    summary="Health of every scored asset",
)
async def asset_health(request: Request) -> list[dict[str, Any]]:
    """Per asset: learning or scoring, the latest anomaly score and health index, model version."""
    scorer = _platform(request).scorer
    out = [scorer.status(path) for path in scorer.assets]
    return sorted(out, key=lambda r: (r["health"] is None, r["health"] if r["health"] is not None else 0))


@router.get(
    "/models", dependencies=[requires("models:read")], tags=["models"], summary="Latest model of every asset"
)
async def list_models(request: Request) -> list[dict[str, Any]]:
    return _platform(request).models.cards()  # type: ignore[no-any-return]


@router.get(
    "/models/{asset:path}",
    dependencies=[requires("models:read")],
    tags=["models"],
    summary="An asset's models",
)
async def asset_models(request: Request, asset: str) -> dict[str, Any]:
    p = _platform(request)
    try:
        status = p.scorer.status(asset)
    except ShopfloorError as err:
        raise HTTPException(404, str(err)) from None
    try:
        card = p.models.card(asset, "mewma")
        versions = p.models.versions(asset, "mewma")
    except ModelNotFound:
        card, versions = None, []
    return {"status": status, "latest": card, "versions": versions}


@router.post(
    "/models/{asset:path}/retrain",
    dependencies=[requires("models:write")],
    tags=["models"],
    summary="Learn the asset's normal operation again from its next rows",
)
async def retrain(
    request: Request,
    asset: str,
    renewed: bool = Query(False, description="The worn part was just replaced: calibrate RUL with this life"),
) -> dict[str, Any]:
    p = _platform(request)
    try:
        status = p.scorer.retrain(asset, renewed=renewed)
    except ShopfloorError as err:
        raise HTTPException(404, str(err)) from None
    await audit.record(acting_user(request, "anonymous"), "model.retrain", asset)
    return status
