"""`/api/v1/stats`: stats of every live deployment in one call (the dashboard's table)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from bosun_local.service.monitoring_models import StatsOut
from bosun_local.service.routes.deps import AUTH, Ctx
from bosun_local.service.stats import compute_stats
from bosun_local.service.storage.base import Row

router = APIRouter(prefix="/api/v1/stats", tags=["monitoring"], dependencies=AUTH)


class AllStatsOut(BaseModel):
    """Stats of each live deployment."""

    window: int
    deployments: list[StatsOut]


@router.get("", response_model=AllStatsOut)
def all_stats(ctx: Ctx, window: Annotated[int, Query(ge=60, le=90 * 86400)] = 3600) -> Row:
    """Return the stats JSON of every live deployment over the last `window` seconds."""
    return {"window": window,
            "deployments": [compute_stats(ctx, dep["id"], window) for dep in ctx.storage.list_deployments()]}
