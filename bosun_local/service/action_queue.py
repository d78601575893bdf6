"""The agent side of the action queue: claim with a lease, renew, complete, and the plugin's action config."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from bosun_local.contracts.actions import CONFIG_ACTIONS, DONE_STATE, RUNNING_STATE, QueuedAction
from bosun_local.contracts.states import INFO, STATUS_ALIASES, ActionStatus, DeploymentState, QueueStatus
from bosun_local.service import replicas
from bosun_local.service.api_errors import conflict, invalid, not_found
from bosun_local.service.context import ServiceContext
from bosun_local.service.deployments import resolve_environment
from bosun_local.service.events import record_event
from bosun_local.service.model_history import advanced, replace_reason
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import iso, now_iso, utcnow
from bosun_local.service.traffic import cancel_followers, on_finished, traffic_config


def get_action(ctx: ServiceContext, action_id: str) -> Row:
    """Return an action or 404."""
    action = ctx.storage.get_action(action_id)
    if action is None:
        raise not_found("action", action_id, "events --type action_queued")
    return action


def claim(ctx: ServiceContext, agent_id: str, lease_sec: float, environment: str | None = None) -> Row | None:
    """Claim the next runnable action for an agent (of one environment if given), failing exhausted ones."""
    env_id = resolve_environment(ctx, environment)["id"] if environment else None
    for _ in range(100):  # bounded: each pass either returns or finishes one exhausted action
        now = utcnow()
        action = ctx.storage.claim_action(agent_id, iso(now), iso(now + timedelta(seconds=lease_sec)), env_id)
        if action is None:
            return None
        dep = ctx.storage.get_deployment(action["deploymentId"])
        if action["attempts"] > ctx.limits.max_action_attempts:
            message = (f"{action['type']} gave up after {action['attempts'] - 1} attempts that never finished "
                       "(the agent died or hung while running it)")
            _finish(ctx, action, dep, "failing", {"status": "failing", "msg": message}, message)
            continue
        previous = action.get("previousAgentId")
        if dep is not None:
            dep = ctx.storage.update_deployment(dep["id"], {"state": RUNNING_STATE[action["type"]]})
        note = "" if previous is None else (" (resumed after the agent restarted)" if previous == agent_id
                                            else f" (re-claimed after the lease of {previous} expired)")
        record_event(ctx, "action_started", "info", f"agent {agent_id} started {action['type']}{note}",
                     deployment_id=action["deploymentId"], environment_id=dep["environmentId"] if dep else None,
                     data={"actionId": action["id"], "actionType": action["type"], "agentId": agent_id,
                           "attempt": action["attempts"]})
        return action
    return None


def release(ctx: ServiceContext, agent_id: str) -> list[Row]:
    """End the leases agent_id holds: it restarted, so nothing it held is running; they are claimable at once."""
    held = [a for a in ctx.storage.list_actions(None, (QueueStatus.CLAIMED,), 10000) if a.get("agentId") == agent_id]
    now = iso(utcnow())
    released = [ctx.storage.update_action(a["id"], {"leaseExpiresAt": now}) for a in held
                if a["status"] == QueueStatus.CLAIMED]
    if released:
        record_event(ctx, "agent_resumed", "info",
                     f"agent {agent_id} restarted; its {len(released)} unfinished actions run again at once: "
                     + ", ".join(f"{a['type']} of {a['deploymentId']}" for a in released),
                     data={"agentId": agent_id, "actionIds": [a["id"] for a in released]})
    return released


def renew(ctx: ServiceContext, action_id: str, agent_id: str, lease_sec: float) -> Row:
    """Extend the lease of an action the agent holds."""
    action = get_action(ctx, action_id)
    _check_holder(action, agent_id)
    return ctx.storage.update_action(action_id, {"leaseExpiresAt": iso(utcnow() + timedelta(seconds=lease_sec))})


def _check_holder(action: Row, agent_id: str) -> None:
    if action["status"] != "claimed":
        raise conflict(f"action {action['id']} is {action['status']}, not claimed", "claim a new action")
    if action.get("agentId") != agent_id:
        raise conflict(f"action {action['id']} is held by agent {action.get('agentId')}, not {agent_id} "
                       "(its lease expired and another agent claimed it)", "drop this action and claim a new one")


def complete(ctx: ServiceContext, action_id: str, agent_id: str, info: dict[str, Any]) -> Row:
    """Finish an action with the plugin's ActionStatusInfo; update the deployment and record events."""
    status = STATUS_ALIASES.get(str(info.get("status", "")).lower())
    if status is None:
        raise invalid(f"statusInfo.status {info.get('status')!r} is not one of passing, warning, failing, unknown",
                      "send the ActionStatusInfo the plugin returned")
    state = info.get("state")
    if state is not None and state not in DeploymentState.ALL:
        raise invalid(f"statusInfo.state {state!r} is not a DeploymentState ({', '.join(DeploymentState.ALL)})",
                      "send a DeploymentState value or null")
    action = get_action(ctx, action_id)
    if action["status"] in ("done", "failed") and action.get("agentId") == agent_id:
        return action  # a retried completion: already recorded once
    _check_holder(action, agent_id)
    dep = ctx.storage.get_deployment(action["deploymentId"])
    return _finish(ctx, action, dep, status, info, info.get("msg") or "")


def _finish(ctx: ServiceContext, action: Row, dep: Row | None, status: str, info: dict[str, Any],
            message: str) -> Row:
    # A plugin without the traffic extension answers unsupported (status unknown): nothing changed, so it failed.
    failed = status == "failing" or bool((info.get("data") or {}).get("unsupported"))
    type_ = action["type"]
    with ctx.storage.transaction():
        action = ctx.storage.update_action(action["id"], {
            "status": "failed" if failed else "done", "leaseExpiresAt": None, "finishedAt": now_iso(),
            "result": {**info, "status": status}})
        old_state = dep["state"] if dep else None
        if dep is not None:
            changes: dict[str, Any] = {"state": info.get("state") or ("errored" if failed else DONE_STATE[type_])}
            url = (info.get("data") or {}).get("predictionUrl")
            if url:
                changes["predictionUrl"] = str(url)
            if not failed and type_ == "deployment_replace_model":
                changes["packageId"] = changes["modelId"] = action["params"]["newPackageId"]
                changes["modelHistory"] = advanced(dep, action["params"]["newPackageId"],
                                                   replace_reason(action["params"]), action["id"])
            if not failed and type_ == "deployment_delete":
                changes["deletedAt"] = now_iso()
            if not failed and type_ in ("deployment_stop", "deployment_delete"):
                changes["traffic"] = None  # the stop removed challengers and canary with the champion
            if type_ == QueuedAction.DEPLOYMENT_TRAFFIC_UPDATE:
                changes.update(on_finished(action, failed))
            if type_ == QueuedAction.DEPLOYMENT_SCALE:
                changes.update(replicas.on_finished(action, dep, failed))
            if failed and type_ == "deployment_replace_model":
                cancel_followers(ctx, action)
            dep = ctx.storage.update_deployment(dep["id"], changes)
    ctx.metrics.action(type_, "failed" if failed else "succeeded")
    name = dep["name"] if dep else action["deploymentId"]
    env_id = dep["environmentId"] if dep else None
    record_event(ctx, "action_failed" if failed else "action_succeeded", status,
                 f"{type_} of deployment {name} {'failed' if failed else 'finished'}: {message}".rstrip(": "),
                 deployment_id=action["deploymentId"], environment_id=env_id,
                 data={"actionId": action["id"], "actionType": type_, "statusInfo": action["result"]})
    if dep is not None and dep["state"] != old_state:
        record_event(ctx, "deployment_state_changed", state_status(dep["state"]),
                     f"deployment {name} is {dep['state']} (was {old_state})", deployment_id=dep["id"],
                     environment_id=env_id, data={"state": dep["state"], "previous": old_state})
    return action


def state_status(state: str) -> str:
    """Return the event status colour of a deployment state."""
    return {DeploymentState.READY: ActionStatus.OK, DeploymentState.ERROR: ActionStatus.ERROR,
            DeploymentState.UNKNOWN: ActionStatus.UNKNOWN}.get(state, INFO)


def action_config(ctx: ServiceContext, dep: Row, action_type: str, action_id: str | None) -> Row:
    """Return {pluginConfig, peInfo, deploymentInfo} for a plugin run on a deployment."""
    if action_type not in CONFIG_ACTIONS:
        raise invalid(f"actionType {action_type!r} is not a plugin action", f"use one of {', '.join(CONFIG_ACTIONS)}")
    env = resolve_environment(ctx, dep["environmentId"])
    package = ctx.storage.get_package(dep["packageId"])
    info: dict[str, Any] = {"id": dep["id"], "name": dep["name"], "description": dep["description"],
                            "modelId": dep["packageId"],
                            "modelExecutionType": "external" if dep.get("external") else "dedicated",
                            "keyValueConfig": dep["keyValueConfig"]}
    if action_type == QueuedAction.DEPLOYMENT_TRAFFIC_UPDATE:
        info["traffic"] = traffic_config(ctx, _open_action(ctx, dep, action_type, action_id))
    if action_type == QueuedAction.DEPLOYMENT_SCALE:
        info["keyValueConfig"] = replicas.scaled_kv(ctx, dep, action_id)
    if action_type == "deployment_replace_model":
        action = _replace_action(ctx, dep, action_id)
        info["newModelId"] = action["params"]["newPackageId"]
        package = ctx.storage.get_package(info["newModelId"])
    if package is not None:
        info.update({"modelArtifact": package["path"], "modelFormat": package["modelFormat"],
                     "modelName": package["name"]})
    live = [d["id"] for d in ctx.storage.list_deployments(environment_id=env["id"])]
    pe_info = {"id": env["id"], "name": env["name"], "description": env["description"],
               "createdOn": env["createdAt"], "keyValueConfig": {}, "deployments": live}
    return {"pluginConfig": env["pluginConfig"], "peInfo": pe_info, "deploymentInfo": info,
            "environment": {"id": env["id"], "platform": env["platform"], "command": env.get("command")}}


def _replace_action(ctx: ServiceContext, dep: Row, action_id: str | None) -> Row:
    return _open_action(ctx, dep, "deployment_replace_model", action_id)


def _open_action(ctx: ServiceContext, dep: Row, type_: str, action_id: str | None) -> Row:
    """Return the action being run: by id, else the oldest open one of its type."""
    if action_id:
        action = get_action(ctx, action_id)
        if action["deploymentId"] != dep["id"] or action["type"] != type_:
            raise invalid(f"action {action_id} is not a {type_} of deployment {dep['id']}",
                          "pass the id of the action being run")
        return action
    pending = [a for a in ctx.storage.list_actions(dep["id"], QueueStatus.OPEN) if a["type"] == type_]
    if not pending:
        what = {"deployment_replace_model": "model replacement"}.get(type_, "traffic update")
        fix = {"deployment_replace_model": "queue one with `bosun-local deployments replace-model`"}.get(
            type_, "add a challenger or start a canary")
        raise conflict(f"deployment {dep['name']} has no {what} queued", fix)
    return pending[-1]  # list is newest first; the oldest open one is the one that runs next
