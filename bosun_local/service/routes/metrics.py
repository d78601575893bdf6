"""`/metrics` (Prometheus text format) and the scrape targets of the deployments (Prometheus HTTP service discovery)."""
from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from bosun_local.contracts.states import DeploymentState
from bosun_local.metrics.exposition import CONTENT_TYPE
from bosun_local.service import metrics
from bosun_local.service.routes.deps import AUTH, Ctx

router = APIRouter(tags=["metrics"], dependencies=AUTH)
TEXT = {200: {"content": {"text/plain": {"schema": {"type": "string"}}},
              "description": "Prometheus text exposition format 0.0.4"}}


class TargetGroup(BaseModel):
    """One entry of Prometheus' HTTP service discovery format."""

    targets: list[str]
    labels: dict[str, str]


@router.get("/metrics", response_class=Response, responses=TEXT)  # type: ignore[arg-type]
def service_metrics(ctx: Ctx) -> Response:
    """Return the service's metrics: API requests, actions, events, and each deployment's monitoring figures."""
    return Response(metrics.render(ctx), media_type=CONTENT_TYPE)


@router.get("/api/v1/metrics/targets", response_model=list[TargetGroup])
def deployment_targets(ctx: Ctx, address: Annotated[str | None, Query(max_length=255)] = None) -> list[TargetGroup]:
    """Return each deployment's metrics path through traefik (at `address`, default the prediction URL's host)."""
    via = address or urlsplit(str(ctx.config["outfacingPredictionURLPrefix"])).netloc
    return [TargetGroup(targets=[via], labels={"__metrics_path__": f"/deployments/{dep['id']}/metrics",
                                               "deployment": dep["id"], "name": str(dep.get("name") or "")})
            for dep in ctx.storage.list_deployments() if dep.get("state") != DeploymentState.STOPPED]
