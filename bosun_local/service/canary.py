"""Canary releases: a share of the traffic to a new model on a schedule, promoted when healthy, rolled back when not."""
from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from bosun_local.contracts.states import QueueStatus
from bosun_local.service.api_errors import conflict, invalid
from bosun_local.service.context import ServiceContext
from bosun_local.service.deployments import request_action
from bosun_local.service.packages import resolve_package
from bosun_local.service.stats import compute_stats, thresholds_for, worst
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import iso, minute_iso, now_iso, parse_time, utcnow
from bosun_local.service.traffic import _check_runs, _same_kind, applied, canary_key, desired, queue_traffic

log = logging.getLogger(__name__)
ACTIVE = ("running",)
# Below this many requests to the canary its error rate says nothing yet.
DEFAULT_MIN_REQUESTS = 10
# How much worse than the champion a canary's accuracy may be (keyValueConfig canaryAccuracyTolerance): for
# classifiers, points of accuracy; for regressions, a fraction of the champion's RMSE.
DEFAULT_ACCURACY_TOLERANCE = 0.1
_SUMS = ("correct", "labelled", "squares", "n")


def canary_accuracy(ctx: ServiceContext, dep: Row, canary: Row) -> Row:
    """Return the canary's accuracy against the champion's on the actuals of requests since it started."""
    # Whole minutes: a prediction without its own timestamp is dated at the start of its minute.
    since = minute_iso(parse_time(canary["startedAt"]))
    mine = ctx.storage.agreement(dep["id"], canary_key(dep["id"], canary["modelId"]), since, 0.0)
    every = ctx.storage.agreement(dep["id"], dep["id"], since, 0.0)
    theirs = {k: every[k] - mine[k] for k in _SUMS}  # the canary's rows are a part of the deployment's
    minimum = thresholds_for(ctx, dep)["accuracyMinRows"]
    kv = dep.get("keyValueConfig") or {}
    tolerance = float(kv.get("canaryAccuracyTolerance") or DEFAULT_ACCURACY_TOLERANCE)
    if mine["labelled"] >= minimum and theirs["labelled"] >= minimum:
        canary_value, champion_value = mine["correct"] / mine["labelled"], theirs["correct"] / theirs["labelled"]
        failing = canary_value < champion_value - tolerance
        metric = "accuracy"
    elif mine["n"] >= minimum and theirs["n"] >= minimum:
        canary_value = (mine["squares"] / mine["n"]) ** 0.5
        champion_value = (theirs["squares"] / theirs["n"]) ** 0.5
        failing = canary_value > champion_value * (1 + tolerance)
        metric = "rmse"
    else:
        return {"status": "unknown", "metric": None, "matched": max(mine["labelled"], mine["n"])}
    return {"status": "failing" if failing else "passing", "metric": metric, "canary": canary_value,
            "champion": champion_value, "tolerance": tolerance, "matched": max(mine["labelled"], mine["n"])}


def _active(dep: Row) -> Row | None:
    canary = dep.get("canary")
    return canary if canary and canary.get("status") in ACTIVE else None


def start_canary(ctx: ServiceContext, dep: Row, ref: str, percent: int, step: int | None,
                 interval_sec: float) -> tuple[Row, Row | None, bool]:
    """Send `percent` of the deployment's traffic to a package; raise it by `step` every interval."""
    _check_runs(dep)
    package = resolve_package(ctx, ref)
    _same_kind(ctx, dep, package)
    if package["id"] == dep["packageId"]:
        raise conflict(f"package {package['name']} ({package['id']}) is already the champion of {dep['name']}",
                       "start a canary of a different package")
    current = _active(dep)
    if current:
        raise conflict(f"deployment {dep['name']} already runs canary {current['modelId']} at {current['percent']} %",
                       "promote or abort it first (`bosun-local deployments canary promote|abort`)")
    if not 1 <= percent <= 99:
        raise invalid(f"--percent {percent} is not from 1 to 99", "give a share like --percent 20")
    if step is not None and not 1 <= step <= 99:
        raise invalid(f"--step {step} is not from 1 to 99", "give a step like --step 20, or none")
    now = now_iso()
    canary = {"modelId": package["id"], "packageName": package["name"], "percent": percent, "startPercent": percent,
              "step": step, "intervalSec": interval_sec, "startedAt": now, "lastStepAt": now, "status": "running",
              "previousModelId": dep["packageId"], "endedAt": None, "reason": None}
    with ctx.storage.transaction():
        dep = ctx.storage.update_deployment(dep["id"], {"canary": canary})
        traffic = {**desired(ctx, dep), "canary": {"modelId": package["id"], "percent": percent}}
        schedule = f", +{step} % every {interval_sec:g} s" if step else ""
        return queue_traffic(ctx, dep, traffic, "canary_started",
                             f"canary {package['name']} ({package['id']}) of deployment {dep['name']} started at "
                             f"{percent} %{schedule}", modelId=package["id"], percent=percent)


def canary_health(ctx: ServiceContext, dep: Row, canary: Row) -> Row:
    """Return the canary model's service health since it started (unknown below the minimum of requests)."""
    started = parse_time(canary["startedAt"])
    window = max(60, int((utcnow() - started).total_seconds()) + 60)
    stats = compute_stats(ctx, dep["id"], window, model_id=canary["modelId"])
    requests = stats["predictions"] + stats["userErrors"] + stats["systemErrors"]
    minimum = int(float((dep.get("keyValueConfig") or {}).get("canaryMinRequests") or DEFAULT_MIN_REQUESTS))
    service = stats["serviceHealth"] if requests >= minimum else "unknown"
    accuracy = canary_accuracy(ctx, dep, canary)
    return {"status": worst(service, accuracy["status"]), "serviceHealth": service, "requests": requests,
            "errorRate": stats["errorRate"], "latencyP95Ms": stats["latencyP95Ms"], "minRequests": minimum,
            "accuracy": accuracy}


def status_of(ctx: ServiceContext, dep: Row) -> Row:
    """Return the deployment's canary (the last one when none runs), its health and whether traefik applies it."""
    canary = dep.get("canary")
    if not canary:
        return {"deploymentId": dep["id"], "canary": None}
    live = applied(dep).get("canary") or {}
    return {"deploymentId": dep["id"], "canary": canary, "health": canary_health(ctx, dep, canary),
            "appliedPercent": live.get("percent", 0) if live.get("modelId") == canary["modelId"] else 0}


def _end(ctx: ServiceContext, dep: Row, status: str, reason: str) -> Row:
    canary = {**(dep.get("canary") or {}), "status": status, "endedAt": now_iso(), "reason": reason}
    return ctx.storage.update_deployment(dep["id"], {"canary": canary})


def promote_canary(ctx: ServiceContext, dep: Row, automatic: bool = False) -> tuple[Row, Row | None, bool]:
    """Make the canary the champion (zero-downtime replacement), then stop splitting traffic."""
    canary = _active(dep)
    if canary is None:
        raise conflict(f"deployment {dep['name']} runs no canary", "start one with `deployments canary start`")
    how = "automatically, its health stayed passing through the schedule" if automatic else "on request"
    with ctx.storage.transaction():
        dep = _end(ctx, dep, "promoted", how)
        dep, replace, _ = request_action(ctx, dep, "deployment_replace_model", canary["modelId"],
                                         reason="canary_auto_promoted" if automatic else "canary_promoted")
        queue_traffic(ctx, dep, {**desired(ctx, dep), "canary": None}, "canary_promoted",
                      f"canary {canary['modelId']} of deployment {dep['name']} promoted to champion {how}",
                      modelId=canary["modelId"], automatic=automatic,
                      afterActionId=replace["id"] if replace else None)
    return dep, replace, False


def abort_canary(ctx: ServiceContext, dep: Row, health: Row | None = None) -> tuple[Row, Row | None, bool]:
    """Send every request back to the champion and remove the canary; with `health`, as an automatic rollback."""
    canary = _active(dep)
    if canary is None:
        raise conflict(f"deployment {dep['name']} runs no canary", "start one with `deployments canary start`")
    traffic = {**desired(ctx, dep), "canary": None}
    if health is None:
        dep = _end(ctx, dep, "aborted", "on request")
        return queue_traffic(ctx, dep, traffic, "canary_aborted",
                             f"canary {canary['modelId']} of deployment {dep['name']} aborted; the champion "
                             f"{dep['packageId']} takes all traffic again", modelId=canary["modelId"])
    rate, accuracy = health.get("errorRate"), health.get("accuracy") or {}
    if health.get("serviceHealth") == "failing" and rate is not None:
        why = (f"its service health turned failing ({health['requests']} requests, error rate {rate:.0%}, "
               f"p95 {health.get('latencyP95Ms') or 0:.0f} ms)")
    elif accuracy.get("status") == "failing":
        why = (f"its {accuracy['metric']} {accuracy['canary']:.4g} is worse than the champion's "
               f"{accuracy['champion']:.4g} beyond the tolerance {accuracy['tolerance']:g} "
               f"({accuracy['matched']} actuals)")
    else:
        why = "it turned failing"
    dep = _end(ctx, dep, "rolled_back", why)
    # A failing event: notification rules on failing events (webhooks) hear of it.
    return queue_traffic(ctx, dep, traffic, "canary_rolled_back",
                         f"canary {canary['modelId']} of deployment {dep['name']} rolled back automatically: {why}; "
                         f"the champion {dep['packageId']} takes all traffic again", status="failing",
                         modelId=canary["modelId"], health=health)


def _settled(ctx: ServiceContext, dep: Row, canary: Row) -> bool:
    """Return True when the canary's traffic is applied and no action of the deployment is open."""
    live = applied(dep).get("canary") or {}
    return live.get("modelId") == canary["modelId"] and not ctx.storage.list_actions(dep["id"], QueueStatus.OPEN)


def tick(ctx: ServiceContext) -> None:
    """Advance every running canary one check: roll back when failing, step up or promote on schedule."""
    for dep in ctx.storage.list_deployments():
        canary = _active(dep)
        if canary is None or not _settled(ctx, dep, canary):
            continue
        health = canary_health(ctx, dep, canary)
        if health["status"] == "failing":
            abort_canary(ctx, dep, health)
            continue
        if not canary.get("step"):
            continue  # no schedule: it stays until promoted or aborted (or it fails)
        due = parse_time(canary["lastStepAt"]) + timedelta(seconds=float(canary["intervalSec"]))
        if utcnow() < due:
            continue
        if health["status"] != "passing":
            continue  # no verdict yet (too few requests): wait for one before moving on
        following = int(canary["percent"]) + int(canary["step"])
        if following >= 100:
            promote_canary(ctx, dep, automatic=True)
            continue
        with ctx.storage.transaction():
            dep = ctx.storage.update_deployment(dep["id"], {"canary": {**canary, "percent": following,
                                                                       "lastStepAt": iso(utcnow())}})
            queue_traffic(ctx, dep, {**desired(ctx, dep), "canary": {"modelId": canary["modelId"],
                                                                     "percent": following}},
                          "canary_stepped", f"canary {canary['modelId']} of deployment {dep['name']} healthy: "
                          f"{canary['percent']} % -> {following} %", modelId=canary["modelId"], percent=following)


def canary_loop(ctx: ServiceContext, stop: threading.Event, interval_sec: float) -> None:
    """Run tick() every interval until stopped."""
    while not stop.wait(interval_sec):
        try:
            tick(ctx)
        except Exception:  # a locked database or a bad row must not end the loop
            log.exception("canary check failed")


def parse_interval(text: str | float | int) -> float:
    """Return seconds of an interval like 300, 90s, 5m or 1h."""
    raw = str(text).strip().lower()
    units: dict[str, Any] = {"s": 1, "m": 60, "h": 3600}
    try:
        value = float(raw[:-1]) * units[raw[-1]] if raw and raw[-1] in units else float(raw)
    except ValueError as exc:
        raise invalid(f"interval {text!r} is not a duration", "write it like 300, 90s, 5m or 1h") from exc
    if value <= 0:
        raise invalid(f"interval {text!r} is not positive", "write it like 5m")
    return value
