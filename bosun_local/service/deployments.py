"""Deployment lifecycle: create, and turn user requests into queued actions (or direct changes when external)."""
from __future__ import annotations

from typing import Any

from bosun_local.contracts.actions import DESIRED_BY_ACTION
from bosun_local.contracts.names import name_problem
from bosun_local.contracts.states import QueueStatus
from bosun_local.service.api_errors import conflict, invalid, not_found
from bosun_local.service.context import ServiceContext
from bosun_local.service.events import record_event
from bosun_local.service.model_history import advanced, first_entry, replace_reason
from bosun_local.service.package_checks import refuse_failed
from bosun_local.service.packages import resolve_package
from bosun_local.service.storage import StorageConflict
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import new_id, now_iso


def resolve_deployment(ctx: ServiceContext, ref: str) -> Row:
    """Return a deployment by id (deleted ones too) or by live name; 404 otherwise."""
    dep = ctx.storage.get_deployment(ref) or ctx.storage.find_deployment_by_name(ref)
    if dep is None:
        raise not_found("deployment", ref, "deployments list")
    return dep


def resolve_environment(ctx: ServiceContext, ref: str | None) -> Row:
    """Return an environment by id or name, the default one when ref is None; 404 otherwise."""
    if ref is None:
        ref = ctx.storage.get_setting("defaultEnvironmentId") or ""
    env = ctx.storage.get_environment(ref) or ctx.storage.find_environment_by_name(ref)
    if env is None:
        raise not_found("environment", ref, "envs list")
    return env


def check_runs(dep: Row, cannot: str, external_fix: str, start_fix: str) -> None:
    """Refuse (409) a deployment bosun-local does not run, or one that is not running: `cannot` says what it lacks."""
    if dep.get("external"):
        raise conflict(f"deployment {dep['name']} is external: bosun-local does not run it, so {cannot}",
                       external_fix)
    if dep.get("deletedAt") or dep["desiredState"] != "running":
        raise conflict(f"deployment {dep['name']} is {dep['desiredState']}, not running", start_fix)


def _check_kv(kv: dict[str, Any]) -> dict[str, Any]:
    for key in kv:
        if not key or len(key) > 200:
            raise invalid(f"keyValueConfig key {key[:40]!r} must be 1 to 200 characters", "use short key names")
    return kv


def create_deployment(ctx: ServiceContext, body: dict[str, Any]) -> tuple[Row, Row | None]:
    """Create a deployment and queue its start (external ones are ready at once, with no action)."""
    package = resolve_package(ctx, body["packageId"])
    refuse_failed(package)
    env = resolve_environment(ctx, body.get("environmentId"))
    name = body["name"].strip()
    problem = name_problem(name, "deployment name")
    if problem:
        raise invalid(problem, "give --name letters, digits, spaces, '-', '_' or '.' (up to 100 characters), "
                               "not an id")
    external = bool(body.get("external"))
    now = now_iso()
    dep = {"id": new_id(), "name": name, "description": body.get("description") or "", "environmentId": env["id"],
           "packageId": package["id"], "modelId": package["id"], "keyValueConfig": _check_kv(body["keyValueConfig"]),
           "state": "ready" if external else "launching", "desiredState": "running", "predictionUrl": None,
           "healthStatus": "unknown", "external": external, "createdAt": now, "updatedAt": now, "deletedAt": None,
           "modelHistory": [first_entry(package["id"], now)]}
    action = None
    try:
        with ctx.storage.transaction():
            ctx.storage.insert_deployment(dep)
            if not external:
                action, _ = ctx.storage.enqueue_action(_new_action(dep["id"], "deployment_start", {}))
    except StorageConflict as exc:
        raise conflict(f"a deployment named {name!r} already exists",
                       "pick another --name, or delete the old deployment first") from exc
    kind = "external deployment" if external else "deployment"
    record_event(ctx, "deployment_created", "info",
                 f"created {kind} {name} ({dep['id']}) of package {package['name']} in environment {env['name']}",
                 deployment_id=dep["id"], environment_id=env["id"],
                 data={"packageId": package["id"], "actionId": action["id"] if action else None})
    return dep, action


def _new_action(deployment_id: str, type_: str, params: dict[str, Any]) -> Row:
    return {"id": new_id(), "deploymentId": deployment_id, "type": type_, "status": "pending", "attempts": 0,
            "leaseExpiresAt": None, "createdAt": now_iso(), "updatedAt": now_iso(), "params": params,
            "agentId": None, "result": None}


def _open_actions(ctx: ServiceContext, dep_id: str) -> list[Row]:
    return ctx.storage.list_actions(dep_id, QueueStatus.OPEN)


def request_action(ctx: ServiceContext, dep: Row, type_: str, package_ref: str | None = None,
                   reason: str | None = None) -> tuple[Row, Row | None, bool]:
    """Queue a lifecycle action for a deployment; return (deployment, action, coalesced)."""
    if dep.get("deletedAt"):
        raise conflict(f"deployment {dep['name']} ({dep['id']}) is deleted", "create a new deployment")
    if dep["desiredState"] == "deleted":
        raise conflict(f"deployment {dep['name']} ({dep['id']}) is being deleted",
                       "wait for the delete to finish and create a new deployment")
    params: dict[str, Any] = {}
    if type_ == "deployment_replace_model":
        package = resolve_package(ctx, package_ref or "")
        refuse_failed(package)
        current = ctx.storage.get_package(dep["packageId"])
        if current and current["targetType"] != package["targetType"]:
            raise invalid(f"package {package['name']} ({package['id']}) is a {package['targetType']} model but "
                          f"deployment {dep['name']} serves a {current['targetType']} model",
                          "replace with a package of the same target type, or create a new deployment")
        pending_replace = any(a["type"] == type_ for a in _open_actions(ctx, dep["id"]))
        if package["id"] == dep["packageId"] and not pending_replace:
            raise conflict(f"deployment {dep['name']} already runs package {package['name']} ({package['id']})",
                           "give a different package")
        params = {"newPackageId": package["id"], "oldPackageId": dep["packageId"]}
        if reason:
            params["reason"] = reason
    if dep.get("external"):
        return _apply_external(ctx, dep, type_, params), None, False
    desired = DESIRED_BY_ACTION[type_]
    with ctx.storage.transaction():
        action, coalesced = ctx.storage.enqueue_action(_new_action(dep["id"], type_, params))
        if desired and desired != dep["desiredState"]:
            dep = ctx.storage.update_deployment(dep["id"], {"desiredState": desired})
    if not coalesced:
        record_event(ctx, "action_queued", "info", f"queued {type_} for deployment {dep['name']}",
                     deployment_id=dep["id"], environment_id=dep["environmentId"],
                     data={"actionId": action["id"], "actionType": type_, "params": params})
    return dep, action, coalesced


def _apply_external(ctx: ServiceContext, dep: Row, type_: str, params: dict[str, Any]) -> Row:
    """Change an external deployment directly: no agent runs it."""
    if type_ == "deployment_relaunch":
        raise conflict(f"deployment {dep['name']} is external: bosun-local does not run it, so cannot relaunch it",
                       "restart the external app yourself")
    by_type: dict[str, dict[str, Any]] = {
        "deployment_start": {"state": "ready", "desiredState": "running"},
        "deployment_stop": {"state": "stopped", "desiredState": "stopped"},
        "deployment_delete": {"state": "stopped", "desiredState": "deleted", "deletedAt": now_iso()},
        "deployment_replace_model": {"packageId": params.get("newPackageId"), "modelId": params.get("newPackageId")},
    }
    if type_ == "deployment_replace_model":
        by_type[type_]["modelHistory"] = advanced(dep, params["newPackageId"], replace_reason(params), None)
    dep = ctx.storage.update_deployment(dep["id"], by_type[type_])
    record_event(ctx, "deployment_changed", "info", f"{type_} applied to external deployment {dep['name']}",
                 deployment_id=dep["id"], environment_id=dep["environmentId"], data={"actionType": type_, **params})
    return dep
