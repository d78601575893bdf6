"""Replicas of a deployment: a scale request queued as deployment_scale; once applied, keyValueConfig replicas."""
from __future__ import annotations

from typing import Any

from bosun_local.contracts.actions import QueuedAction
from bosun_local.contracts.autoscale import REPLICAS_KEY
from bosun_local.contracts.states import QueueStatus
from bosun_local.service.context import ServiceContext
from bosun_local.service.deployments import check_runs
from bosun_local.service.events import record_event
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import new_id, now_iso

SCALE = QueuedAction.DEPLOYMENT_SCALE


def request_scale(ctx: ServiceContext, dep: Row, replicas: int, reason: str | None = None,
                  detail: dict[str, Any] | None = None) -> tuple[Row, Row | None, bool]:
    """Queue a change of the deployment's replicas and record why (a user, or the autoscaler with its figures)."""
    check_runs(dep, "it has no replicas to scale", "scale the app where it runs",
               "start it first (`bosun-local deployments start`), or set keyValueConfig replicas at deploy")
    params: dict[str, Any] = {REPLICAS_KEY: replicas, "reason": reason or "user"}
    if detail:
        params["detail"] = detail
    action = {"id": new_id(), "deploymentId": dep["id"], "type": SCALE, "status": "pending", "attempts": 0,
              "leaseExpiresAt": None, "createdAt": now_iso(), "updatedAt": now_iso(), "params": params,
              "agentId": None, "result": None}
    action, coalesced = ctx.storage.enqueue_action(action)
    if not coalesced:
        before = (dep.get("keyValueConfig") or {}).get(REPLICAS_KEY)
        record_event(ctx, "action_queued", "info",
                     f"queued {SCALE} for deployment {dep['name']}: {before or 'default'} -> {replicas} replicas "
                     f"({params['reason']})", deployment_id=dep["id"], environment_id=dep["environmentId"],
                     data={"actionId": action["id"], "actionType": SCALE, "params": params})
    return dep, action, coalesced


def scaled_kv(ctx: ServiceContext, dep: Row, action_id: str | None) -> dict[str, Any]:
    """Return the keyValueConfig a deployment_scale runs with: the deployment's, replicas from the scale action."""
    kv = dict(dep.get("keyValueConfig") or {})
    actions = [a for a in ctx.storage.list_actions(dep["id"], QueueStatus.OPEN) if a["type"] == SCALE]
    chosen = next((a for a in actions if a["id"] == action_id), actions[-1] if actions else None)
    if chosen is not None:
        kv[REPLICAS_KEY] = chosen["params"][REPLICAS_KEY]
    return kv


def on_finished(action: Row, dep: Row, failed: bool) -> Row:
    """Return the deployment changes of a finished scale: keyValueConfig replicas, on success."""
    if failed:
        return {}
    return {"keyValueConfig": {**(dep.get("keyValueConfig") or {}), REPLICAS_KEY: action["params"][REPLICAS_KEY]}}
