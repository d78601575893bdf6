"""`/api/v1/deployments`: create, list, show, lifecycle requests, agent status, action config, baseline, stats."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from bosun_local.service.action_queue import action_config, state_status
from bosun_local.service.api_errors import ApiError
from bosun_local.service.deployments import create_deployment, request_action, resolve_deployment
from bosun_local.service.events import record_event
from bosun_local.service.model_history import described, rollback_target
from bosun_local.service.models import (
    ActionConfigOut,
    ActionRequestOut,
    BaselineOut,
    DeploymentIn,
    DeploymentOut,
    ModelHistoryOut,
    ReplaceModelIn,
    RollbackIn,
    ScaleIn,
    StatusPatch,
)
from bosun_local.service.monitoring_models import StatsOut
from bosun_local.service.replicas import request_scale
from bosun_local.service.routes.deps import AUTH, Ctx, errors
from bosun_local.service.stats import compute_stats
from bosun_local.service.storage.base import Row

router = APIRouter(prefix="/api/v1/deployments", tags=["deployments"], dependencies=AUTH)
NOT_FOUND = errors(e404="no such deployment")
REFUSED = errors(e404="no such deployment", e409="the deployment's state forbids it")


@router.post("", response_model=ActionRequestOut, status_code=201,
             responses=errors(e404="unknown package or environment", e409="name taken"))
def create(ctx: Ctx, body: DeploymentIn) -> Row:
    """Create a deployment and queue its start (external deployments are ready at once)."""
    dep, action = create_deployment(ctx, body.model_dump())
    return {"deployment": dep, "action": action, "coalesced": False}


@router.get("", response_model=list[DeploymentOut])
def list_deployments(ctx: Ctx, includeDeleted: bool = False) -> list[Row]:
    """List deployments, oldest first."""
    return ctx.storage.list_deployments(include_deleted=includeDeleted)


@router.get("/{ref}", response_model=DeploymentOut, responses=NOT_FOUND)
def get_deployment(ctx: Ctx, ref: str) -> Row:
    """Show a deployment by id or name."""
    return resolve_deployment(ctx, ref)


def _request(ctx: Ctx, ref: str, type_: str, package: str | None = None) -> Row:
    dep, action, coalesced = request_action(ctx, resolve_deployment(ctx, ref), type_, package)
    return {"deployment": dep, "action": action, "coalesced": coalesced}


@router.post("/{ref}/replace-model", response_model=ActionRequestOut, status_code=202,
             responses={**REFUSED, **errors(e422="the package does not fit the deployment")})
def replace_model(ctx: Ctx, ref: str, body: ReplaceModelIn) -> Row:
    """Queue a model replacement."""
    return _request(ctx, ref, "deployment_replace_model", body.packageId)


@router.get("/{ref}/history", response_model=list[ModelHistoryOut], responses=NOT_FOUND)
def model_history(ctx: Ctx, ref: str) -> list[Row]:
    """List every model the deployment has served, oldest first, with when and why it changed."""
    return described(ctx, resolve_deployment(ctx, ref))


@router.post("/{ref}/rollback", response_model=ActionRequestOut, status_code=202,
             responses={**REFUSED, **errors(e422="the deployment never served that model")})
def rollback(ctx: Ctx, ref: str, body: RollbackIn) -> Row:
    """Queue a zero-downtime replacement back to the previous model (or to `to`, a model it served)."""
    dep = resolve_deployment(ctx, ref)
    target = rollback_target(ctx, dep, body.to)
    dep, action, coalesced = request_action(ctx, dep, "deployment_replace_model", target, reason="rollback")
    return {"deployment": dep, "action": action, "coalesced": coalesced}


@router.post("/{ref}/scale", response_model=ActionRequestOut, status_code=202, responses=REFUSED)
def scale(ctx: Ctx, ref: str, body: ScaleIn) -> Row:
    """Queue a change of the deployment's replicas (applied without dropping requests; then keyValueConfig)."""
    dep, action, coalesced = request_scale(ctx, resolve_deployment(ctx, ref), body.replicas, body.reason, body.detail)
    return {"deployment": dep, "action": action, "coalesced": coalesced}


@router.post("/{ref}/stop", response_model=ActionRequestOut, status_code=202, responses=REFUSED)
def stop(ctx: Ctx, ref: str) -> Row:
    """Queue a stop (deactivate)."""
    return _request(ctx, ref, "deployment_stop")


@router.post("/{ref}/start", response_model=ActionRequestOut, status_code=202, responses=REFUSED)
def start(ctx: Ctx, ref: str) -> Row:
    """Queue a start (activate)."""
    return _request(ctx, ref, "deployment_start")


@router.post("/{ref}/relaunch", response_model=ActionRequestOut, status_code=202, responses=REFUSED)
def relaunch(ctx: Ctx, ref: str) -> Row:
    """Queue a relaunch."""
    return _request(ctx, ref, "deployment_relaunch")


@router.delete("/{ref}", response_model=ActionRequestOut, status_code=202, responses=REFUSED)
def delete(ctx: Ctx, ref: str) -> Row:
    """Queue a delete; the deployment is marked deleted when the agent has stopped it."""
    return _request(ctx, ref, "deployment_delete")


@router.patch("/{ref}/status", response_model=DeploymentOut, responses=NOT_FOUND)
def report_status(ctx: Ctx, ref: str, body: StatusPatch) -> Row:
    """Record an agent's observation; an event is recorded only when a value changes."""
    dep = resolve_deployment(ctx, ref)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if k != "message" and v is not None}
    changed = {k: v for k, v in changes.items() if dep.get(k) != v}
    if not changed:
        return dep
    before = dep
    dep = ctx.storage.update_deployment(dep["id"], changed)
    note = f": {body.message}" if body.message else ""
    if "state" in changed:
        record_event(ctx, "deployment_state_changed", state_status(dep["state"]),
                     f"deployment {dep['name']} is {dep['state']} (was {before['state']}){note}",
                     deployment_id=dep["id"], environment_id=dep["environmentId"],
                     data={"state": dep["state"], "previous": before["state"]})
    if "healthStatus" in changed:
        record_event(ctx, "health_changed", dep["healthStatus"],
                     f"deployment {dep['name']} health is {dep['healthStatus']} (was {before['healthStatus']}){note}",
                     deployment_id=dep["id"], environment_id=dep["environmentId"],
                     data={"healthStatus": dep["healthStatus"], "previous": before["healthStatus"]})
    if "predictionUrl" in changed:
        record_event(ctx, "prediction_url_changed", "info",
                     f"deployment {dep['name']} serves at {dep['predictionUrl']}", deployment_id=dep["id"],
                     environment_id=dep["environmentId"], data={"predictionUrl": dep["predictionUrl"]})
    return dep


@router.get("/{ref}/action-config", response_model=ActionConfigOut, responses=REFUSED)
def get_action_config(ctx: Ctx, ref: str, actionType: str, actionId: str | None = None) -> Row:
    """Return the {pluginConfig, peInfo, deploymentInfo} a plugin needs to run an action on the deployment."""
    return action_config(ctx, resolve_deployment(ctx, ref), actionType, actionId)


@router.get("/{ref}/baseline", response_model=BaselineOut,
            responses=errors(e404="no such deployment, or its model has no training data"))
def get_baseline(ctx: Ctx, ref: str) -> Row:
    """Return the drift baseline of the deployment's current model package."""
    dep = resolve_deployment(ctx, ref)
    baseline = ctx.storage.get_baseline(dep["packageId"])
    if baseline is None:
        raise ApiError(404, f"deployment {dep['name']}: its model package {dep['packageId']} has no training data, "
                            "so no drift baseline", "register the package with --training-data CSV")
    return baseline


@router.get("/{ref}/stats", response_model=StatsOut, responses=NOT_FOUND)
def get_stats(ctx: Ctx, ref: str, window: Annotated[int, Query(ge=60, le=90 * 86400)] = 3600) -> Row:
    """Return service health and drift over the last `window` seconds."""
    return compute_stats(ctx, ref, window)
