"""Challengers and canary traffic of a deployment: what is wanted, queued as deployment_traffic_update actions."""
from __future__ import annotations

from typing import Any

from bosun_local.contracts.actions import QueuedAction
from bosun_local.contracts.challengers import DEFAULT_FEED, FEED_KEY, FEEDS, feed_of
from bosun_local.contracts.states import QueueStatus
from bosun_local.service.api_errors import conflict, invalid, not_found
from bosun_local.service.context import ServiceContext
from bosun_local.service.deployments import check_runs, request_action
from bosun_local.service.events import record_event
from bosun_local.service.packages import resolve_package
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import new_id, now_iso

DEFAULT_MAX_CHALLENGERS = 3
TRAFFIC = QueuedAction.DEPLOYMENT_TRAFFIC_UPDATE


def empty() -> Row:
    """Return the traffic of a deployment with no challenger and no canary."""
    return {"challengers": [], "canary": None}


def applied(dep: Row) -> Row:
    """Return the traffic the agent last applied to a deployment."""
    return {**empty(), **(dep.get("traffic") or {})}


def desired(ctx: ServiceContext, dep: Row) -> Row:
    """Return the traffic wanted: that of the newest queued traffic update, else the applied one."""
    for action in ctx.storage.list_actions(dep["id"], QueueStatus.OPEN):  # newest first
        if action["type"] == TRAFFIC:
            return {**empty(), **action["params"]["traffic"]}
    return applied(dep)


def max_challengers(ctx: ServiceContext, dep: Row) -> int:
    """Return how many challengers a deployment may run: keyValueConfig maxChallengers, setting, or 3."""
    raw = (dep.get("keyValueConfig") or {}).get("maxChallengers") or ctx.storage.get_setting("maxChallengers")
    try:
        return max(0, int(raw)) if raw is not None else DEFAULT_MAX_CHALLENGERS
    except (TypeError, ValueError):
        return DEFAULT_MAX_CHALLENGERS


def default_feed(ctx: ServiceContext, dep: Row) -> str:
    """Return the feed of a new challenger: keyValueConfig challengerFeed, the service setting, else replay."""
    raw = (dep.get("keyValueConfig") or {}).get(FEED_KEY) or ctx.storage.get_setting(FEED_KEY) or DEFAULT_FEED
    feed = str(raw).strip().lower()
    if feed not in FEEDS:
        raise invalid(f"deployment {dep['name']}: {FEED_KEY}={raw!r} is not a challenger feed",
                      f"set {FEED_KEY} to {' or '.join(FEEDS)} (keyValueConfig or the service setting)")
    return feed


def _check_runs(dep: Row) -> None:
    check_runs(dep, "it cannot run challengers or a canary beside it", "use a deployment the agent runs",
               "start it first: `bosun-local deployments start`")


def _same_kind(ctx: ServiceContext, dep: Row, package: Row) -> None:
    current = ctx.storage.get_package(dep["packageId"])
    if current and current["targetType"] != package["targetType"]:
        raise invalid(f"package {package['name']} ({package['id']}) is a {package['targetType']} model but "
                      f"deployment {dep['name']} serves a {current['targetType']} model",
                      "use a package of the same target type")


def queue_traffic(ctx: ServiceContext, dep: Row, traffic: Row, reason: str, message: str, *, status: str = "info",
                  **extra: Any) -> tuple[Row, Row | None, bool]:
    """Queue the agent's traffic update to `traffic` and record why."""
    params = {"traffic": traffic, "reason": reason, **extra}
    action = {"id": new_id(), "deploymentId": dep["id"], "type": TRAFFIC, "status": "pending", "attempts": 0,
              "leaseExpiresAt": None, "createdAt": now_iso(), "updatedAt": now_iso(), "params": params,
              "agentId": None, "result": None}
    action, coalesced = ctx.storage.enqueue_action(action)
    if not coalesced:
        record_event(ctx, reason, status, message, deployment_id=dep["id"], environment_id=dep["environmentId"],
                     data={"actionId": action["id"], "actionType": TRAFFIC, "traffic": traffic, **extra})
    return dep, action, coalesced


def _challenger(ctx: ServiceContext, dep: Row, ref: str, wanted: Row) -> Row:
    package = resolve_package(ctx, ref)
    for entry in wanted["challengers"]:
        if entry["modelId"] == package["id"]:
            return entry
    raise not_found("challenger", ref, f"deployments challengers list {dep['name']}")


def add_challenger(ctx: ServiceContext, dep: Row, ref: str, feed: str | None = None) -> tuple[Row, Row | None, bool]:
    """Queue a challenger: the package runs beside the champion on a replay or a mirror of its traffic."""
    _check_runs(dep)
    if feed is not None and feed not in FEEDS:
        raise invalid(f"challenger feed {feed!r} is not one of {', '.join(FEEDS)}",
                      "use replay (the rows the champion reported) or mirror (traefik copies each request)")
    feed = feed or default_feed(ctx, dep)
    package = resolve_package(ctx, ref)
    _same_kind(ctx, dep, package)
    wanted = desired(ctx, dep)
    if package["id"] == dep["packageId"]:
        raise conflict(f"package {package['name']} ({package['id']}) is the champion of deployment {dep['name']}",
                       "add a different package as challenger")
    if any(c["modelId"] == package["id"] for c in wanted["challengers"]):
        raise conflict(f"package {package['name']} ({package['id']}) already challenges deployment {dep['name']}",
                       "see `bosun-local deployments challengers list`")
    limit = max_challengers(ctx, dep)
    if len(wanted["challengers"]) >= limit:
        raise conflict(f"deployment {dep['name']} already runs {len(wanted['challengers'])} challenger(s), "
                       f"its limit is {limit}",
                       "remove one first, or raise the limit with keyValueConfig maxChallengers")
    entry = {"modelId": package["id"], "addedAt": now_iso(), "feed": feed}
    traffic = {**wanted, "challengers": [*wanted["challengers"], entry]}
    return queue_traffic(ctx, dep, traffic, "challenger_added",
                         f"challenger {package['name']} ({package['id']}) added to deployment {dep['name']} "
                         f"({feed} of its traffic)", modelId=package["id"], feed=feed)


def remove_challenger(ctx: ServiceContext, dep: Row, ref: str) -> tuple[Row, Row | None, bool]:
    """Queue the removal of a challenger."""
    wanted = desired(ctx, dep)
    gone = _challenger(ctx, dep, ref, wanted)
    traffic = {**wanted, "challengers": [c for c in wanted["challengers"] if c["modelId"] != gone["modelId"]]}
    return queue_traffic(ctx, dep, traffic, "challenger_removed",
                         f"challenger {gone['modelId']} removed from deployment {dep['name']}",
                         modelId=gone["modelId"])


def promote_challenger(ctx: ServiceContext, dep: Row, ref: str) -> tuple[Row, Row | None, bool]:
    """Queue a zero-downtime replacement by a challenger; the old champion stays on as a challenger."""
    _check_runs(dep)
    wanted = desired(ctx, dep)
    chosen = _challenger(ctx, dep, ref, wanted)
    old = dep["packageId"]
    with ctx.storage.transaction():
        dep, replace, _ = request_action(ctx, dep, "deployment_replace_model", chosen["modelId"],
                                         reason="challenger_promoted")
        others = [c for c in wanted["challengers"] if c["modelId"] != chosen["modelId"]]
        # The old champion takes the promoted challenger's place, fed as it was.
        traffic = {**wanted, "challengers": [*others, {"modelId": old, "addedAt": now_iso(),
                                                       "feed": feed_of(chosen)}]}
        queue_traffic(ctx, dep, traffic, "challenger_promoted",
                      f"challenger {chosen['modelId']} promoted to champion of deployment {dep['name']}; the old "
                      f"champion {old} stays on as a challenger", modelId=chosen["modelId"], previousModelId=old,
                      afterActionId=replace["id"] if replace else None)
    return dep, replace, False


def cancel_followers(ctx: ServiceContext, replace: Row) -> None:
    """Fail the traffic updates queued to follow a promotion whose replacement failed (nothing was promoted)."""
    for action in ctx.storage.list_actions(replace["deploymentId"], (QueueStatus.PENDING,)):
        if action["type"] != TRAFFIC or action["params"].get("afterActionId") != replace["id"]:
            continue
        if action["params"].get("reason") == "canary_promoted":
            # Its update removes the canary: the champion it could not replace takes all traffic, as after an abort.
            dep = ctx.storage.get_deployment(replace["deploymentId"])
            if dep and dep.get("canary"):
                ctx.storage.update_deployment(dep["id"], {"canary": {
                    **dep["canary"], "status": "aborted", "reason": "its promotion's replacement failed"}})
            continue
        message = (f"cancelled: the replacement {replace['id']} it followed failed, so the champion, "
                   "challengers and canary stay as they were")
        ctx.storage.update_action(action["id"], {"status": "failed", "finishedAt": now_iso(),
                                                 "result": {"status": "failing", "msg": message}})
        record_event(ctx, "action_failed", "failing", f"{TRAFFIC} {message}", deployment_id=action["deploymentId"],
                     data={"actionId": action["id"], "actionType": TRAFFIC})


def traffic_config(ctx: ServiceContext, action: Row) -> Row:
    """Return deploymentInfo.traffic of a traffic update: each model with its package directory."""
    traffic = {**empty(), **action["params"]["traffic"]}

    def with_artifact(entry: Row) -> Row:
        package = ctx.storage.get_package(entry["modelId"])
        return {**entry, "modelArtifact": package["path"] if package else None,
                "modelName": package["name"] if package else None}

    return {"challengers": [with_artifact(c) for c in traffic["challengers"]],
            "canary": with_artifact(traffic["canary"]) if traffic.get("canary") else None}


def on_finished(action: Row, failed: bool) -> Row:
    """Return the deployment changes of a finished traffic update (the applied traffic, on success)."""
    return {} if failed else {"traffic": {**empty(), **action["params"]["traffic"]}}


def challengers_of(ctx: ServiceContext, dep: Row) -> list[Row]:
    """Return the deployment's challengers (applied or queued) with their package names and whether applied."""
    live = {c["modelId"] for c in applied(dep)["challengers"]}
    rows = []
    for entry in desired(ctx, dep)["challengers"]:
        package = ctx.storage.get_package(entry["modelId"])
        rows.append({**entry, "feed": feed_of(entry), "packageName": package["name"] if package else None,
                     "state": "running" if entry["modelId"] in live else "starting"})
    return rows


def shadow_key(deployment_id: str, model_id: str) -> str:
    """Return the key a challenger's predictions are stored under by association id (beside the champion's)."""
    return f"{deployment_id}/challenger/{model_id}"


def canary_key(deployment_id: str, model_id: str) -> str:
    """Return the extra key a canary's predictions are also stored under (its own accuracy)."""
    return f"{deployment_id}/canary/{model_id}"


def mark_shadow_associations(ctx: ServiceContext, records: list[Row]) -> None:
    """Key records of a challenger's predictions apart, and copy a canary's (one lookup per deployment)."""
    shadows: dict[str, tuple[set[str], str | None]] = {}
    for record in records:
        if not record.get("associations"):
            continue
        dep_id = record["deploymentId"]
        if dep_id not in shadows:
            dep = ctx.storage.get_deployment(dep_id)
            models: set[str] = set()
            canary = None
            if dep:
                models = {c["modelId"] for c in [*desired(ctx, dep)["challengers"], *applied(dep)["challengers"]]}
                running = dep.get("canary") or {}
                canary = running.get("modelId") if running.get("status") == "running" else None
            shadows[dep_id] = (models, canary)
        models, canary = shadows[dep_id]
        if record.get("modelId") in models:
            record["associationKey"] = shadow_key(dep_id, record["modelId"])
        elif canary and record.get("modelId") == canary:
            # Its predictions answer clients (they stay under the deployment) and are copied for its own accuracy.
            record["copyAssociationKey"] = canary_key(dep_id, canary)
