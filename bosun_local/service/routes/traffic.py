"""`/api/v1/deployments/{ref}/challengers|canary`: run new models beside the champion, fed its traffic or on a share."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from bosun_local.service.canary import abort_canary, parse_interval, promote_canary, start_canary, status_of
from bosun_local.service.compare import compare
from bosun_local.service.deployments import resolve_deployment
from bosun_local.service.models import ActionRequestOut, Open, Strict
from bosun_local.service.routes.deps import AUTH, Ctx, errors
from bosun_local.service.storage.base import Row
from bosun_local.service.traffic import add_challenger, challengers_of, promote_challenger, remove_challenger

router = APIRouter(prefix="/api/v1/deployments", tags=["traffic"], dependencies=AUTH)
REFUSED = errors(e404="no such deployment, package or challenger", e409="the deployment's state forbids it",
                 e422="the request does not fit the deployment")


class ChallengerIn(Strict):
    packageId: str = Field(min_length=1, max_length=200, description="package id or name")
    feed: Literal["replay", "mirror"] | None = Field(
        default=None, description="replay: the rows the champion reported, after they are stored (default); "
                                  "mirror: traefik copies each request live")


class ChallengerOut(Open):
    modelId: str
    packageName: str | None
    addedAt: str
    feed: str
    state: str


class CanaryIn(Strict):
    packageId: str = Field(min_length=1, max_length=200, description="package id or name")
    percent: int = Field(ge=1, le=99, description="share of requests the canary gets at first")
    step: int | None = Field(default=None, ge=1, le=99, description="percent added each interval while healthy")
    interval: str = Field(default="5m", max_length=20, description="time between steps: 300, 90s, 5m, 1h")


class CanaryOut(Open):
    deploymentId: str
    canary: dict[str, Any] | None


class CompareOut(BaseModel):
    """Champion and each challenger and canary side by side."""

    deploymentId: str
    window: int
    models: list[dict[str, Any]]


def _answer(result: tuple[Row, Row | None, bool]) -> Row:
    dep, action, coalesced = result
    return {"deployment": dep, "action": action, "coalesced": coalesced}


@router.get("/{ref}/challengers", response_model=list[ChallengerOut], responses=REFUSED)
def list_challengers(ctx: Ctx, ref: str) -> list[Row]:
    """List the deployment's challengers (running, or starting while their update is queued)."""
    return challengers_of(ctx, resolve_deployment(ctx, ref))


@router.post("/{ref}/challengers", response_model=ActionRequestOut, status_code=202, responses=REFUSED)
def post_challenger(ctx: Ctx, ref: str, body: ChallengerIn) -> Row:
    """Queue a challenger: it runs beside the champion on a replay or a mirror of the live traffic."""
    return _answer(add_challenger(ctx, resolve_deployment(ctx, ref), body.packageId, body.feed))


@router.delete("/{ref}/challengers/{model}", response_model=ActionRequestOut, status_code=202, responses=REFUSED)
def delete_challenger(ctx: Ctx, ref: str, model: str) -> Row:
    """Queue the removal of a challenger."""
    return _answer(remove_challenger(ctx, resolve_deployment(ctx, ref), model))


@router.post("/{ref}/challengers/{model}/promote", response_model=ActionRequestOut, status_code=202,
             responses=REFUSED)
def post_promote_challenger(ctx: Ctx, ref: str, model: str) -> Row:
    """Queue the challenger's promotion (zero-downtime replacement); the old champion becomes a challenger."""
    return _answer(promote_challenger(ctx, resolve_deployment(ctx, ref), model))


@router.get("/{ref}/canary", response_model=CanaryOut, responses=REFUSED)
def get_canary(ctx: Ctx, ref: str) -> Row:
    """Return the deployment's canary (or its last one), its health and the share traefik applies."""
    return status_of(ctx, resolve_deployment(ctx, ref))


@router.post("/{ref}/canary", response_model=ActionRequestOut, status_code=202, responses=REFUSED)
def post_canary(ctx: Ctx, ref: str, body: CanaryIn) -> Row:
    """Start a canary: `percent` of requests to the package, raised by `step` every `interval` while healthy."""
    return _answer(start_canary(ctx, resolve_deployment(ctx, ref), body.packageId, body.percent, body.step,
                                parse_interval(body.interval)))


@router.post("/{ref}/canary/promote", response_model=ActionRequestOut, status_code=202, responses=REFUSED)
def post_canary_promote(ctx: Ctx, ref: str) -> Row:
    """Promote the canary to champion now (zero-downtime replacement)."""
    return _answer(promote_canary(ctx, resolve_deployment(ctx, ref)))


@router.post("/{ref}/canary/abort", response_model=ActionRequestOut, status_code=202, responses=REFUSED)
def post_canary_abort(ctx: Ctx, ref: str) -> Row:
    """Abort the canary: every request goes to the champion again."""
    return _answer(abort_canary(ctx, resolve_deployment(ctx, ref)))


@router.get("/{ref}/compare", response_model=CompareOut, responses=REFUSED)
def get_compare(ctx: Ctx, ref: str, window: Annotated[int, Query(ge=60, le=90 * 86400)] = 3600) -> Row:
    """Return champion vs challengers (and canary): latency, errors, predictions, drift, agreement, accuracy."""
    return compare(ctx, resolve_deployment(ctx, ref), window)
