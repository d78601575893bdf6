"""Stats over a time window: totals, latency percentiles, service health, drift and accuracy."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from bosun_local.contracts.latency import LatencySketch
from bosun_local.service.accuracy_status import deployment_accuracy, window_start
from bosun_local.service.api_errors import not_found
from bosun_local.service.context import ServiceContext
from bosun_local.service.custom_metrics import events_figures, metrics_figures
from bosun_local.service.drift import DEFAULT_DRIFT_THRESHOLDS, drift, grade
from bosun_local.service.figures import minute_sketch
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import minute_iso, utcnow

# errorRate* judge system errors (5xx, and requests traefik could not deliver); userErrorRate* judge user errors
# (4xx): as DataRobot's service-health page, a client sending bad rows does not make the deployment fail.
DEFAULT_THRESHOLDS = {"errorRateWarn": 0.05, "errorRateFail": 0.20, "userErrorRateWarn": 0.20,
                      "userErrorRateFail": 1.0, "latencyP95WarnMs": 500.0,
                      "latencyP95FailMs": 2000.0, **DEFAULT_DRIFT_THRESHOLDS,
                      # PSI of a handful of rows says nothing: below this many rows drift stays unknown.
                      "driftMinRows": 100.0,
                      # Accuracy of a handful of matched rows says nothing either.
                      "accuracyMinRows": 10.0}
# Numeric thresholds without a service-wide default (their default depends on the deployment's metric).
OPTIONAL_THRESHOLDS = frozenset({"accuracyWarn", "accuracyFail", "accuracyWindowSec"})


def service_thresholds(ctx: ServiceContext) -> dict[str, float]:
    """Return the service-wide thresholds: defaults overridden by stored settings."""
    return {**DEFAULT_THRESHOLDS, **(ctx.storage.get_setting("thresholds") or {})}


def thresholds_for(ctx: ServiceContext, dep: Row | None) -> dict[str, float]:
    """Return the thresholds of a deployment: service ones overridden by numeric keyValueConfig entries."""
    values = service_thresholds(ctx)
    for key, raw in ((dep or {}).get("keyValueConfig") or {}).items():
        if key in DEFAULT_THRESHOLDS or key in OPTIONAL_THRESHOLDS:
            try:
                values[key] = float(raw)
            except (TypeError, ValueError):
                continue
    return values


def worst(*statuses: str) -> str:
    """Return the worst of several statuses."""
    order = ["failing", "warning", "passing", "unknown"]
    known = [s for s in statuses if s != "unknown"]
    return min(known, key=order.index) if known else "unknown"


def compute_stats(ctx: ServiceContext, dep_id: str, window: int, model_id: str | None = None) -> dict[str, Any]:
    """Return the contract's stats JSON for the last `window` seconds (whole minutes), of one model when given.

    Without a model the figures of the deployment's challengers are left out: they answer mirrored copies of the
    requests, not clients.
    """
    dep = ctx.storage.get_deployment(dep_id) or ctx.storage.find_deployment_by_name(dep_id)
    key = dep["id"] if dep else dep_id
    minutes = list(ctx.storage.minute_figures(key, minute_iso(utcnow() - timedelta(seconds=window))))
    if model_id is not None:
        minutes = [m for m in minutes if m.get("modelId") == model_id]
    elif dep and (shadows := {c["modelId"] for c in (dep.get("traffic") or {}).get("challengers") or []}):
        minutes = [m for m in minutes if m.get("modelId") not in shadows]
    limits = thresholds_for(ctx, dep)
    accuracy = deployment_accuracy(ctx, dep, key, window_start(window), limits)
    if dep is None and not minutes and not accuracy["matched"] and not accuracy["waitingActuals"]:
        raise not_found("deployment", dep_id, "deployments list")
    totals = {"predictions": 0, "userErrors": 0, "systemErrors": 0, "rows": 0, "predictionSum": 0.0}
    latency = LatencySketch()
    series: dict[str, dict[str, Any]] = {}
    for m in minutes:
        for name in totals:
            totals[name] += m.get(name, 0)
        sketch = minute_sketch(m)
        latency.merge(sketch)
        point = series.setdefault(m["minute"], {"minute": m["minute"], "predictions": 0, "errors": 0,
                                                "lat": LatencySketch()})
        point["predictions"] += m["predictions"]
        point["errors"] += m["userErrors"] + m["systemErrors"]
        point["lat"].merge(sketch)
    errors = totals["userErrors"] + totals["systemErrors"]
    requests = totals["predictions"] + errors
    error_rate = errors / requests if requests else None
    system_rate = totals["systemErrors"] / requests if requests else None
    user_rate = totals["userErrors"] / requests if requests else None
    p95 = latency.quantile(0.95)
    health = worst(grade(system_rate, limits["errorRateWarn"], limits["errorRateFail"]),
                   grade(user_rate, limits["userErrorRateWarn"], limits["userErrorRateFail"]),
                   grade(p95, limits["latencyP95WarnMs"], limits["latencyP95FailMs"]))
    baseline = ctx.storage.get_baseline(dep["packageId"]) if dep else None
    drift_dep = dep
    if dep and model_id is not None:
        # One model's drift: its own minutes against its own training data (else the champion's).
        baseline = ctx.storage.get_baseline(model_id) or baseline
        drift_dep = {**dep, "packageId": model_id}
    return {
        "deploymentId": key, "window": window, "predictions": totals["predictions"],
        "userErrors": totals["userErrors"], "systemErrors": totals["systemErrors"], "errorRate": error_rate,
        "systemErrorRate": system_rate, "userErrorRate": user_rate,
        "latencyP50Ms": latency.quantile(0.5), "latencyP95Ms": p95, "latencyP99Ms": latency.quantile(0.99),
        "latencyMinMs": latency.min if latency.count else None, "latencyMaxMs": latency.max if latency.count else None,
        "latencyMeanMs": latency.mean, "latencyCount": latency.count,
        "latencyFromLegacyBuckets": latency.from_buckets, "serviceHealth": health,
        "drift": drift(baseline, drift_dep, minutes, limits), "accuracy": accuracy, "thresholds": limits,
        "predictionRows": totals["rows"],
        "predictionMean": totals["predictionSum"] / totals["rows"] if totals["rows"] else None,
        "actuals": {"matched": accuracy["matched"], "waiting": accuracy["waitingActuals"]},
        "customMetrics": metrics_figures(dep, minutes), "reportedEvents": events_figures(minutes),
        "series": [{"minute": p["minute"], "predictions": p["predictions"], "errors": p["errors"],
                    "latencyP50Ms": p["lat"].quantile(0.5), "latencyP95Ms": p["lat"].quantile(0.95)}
                   for p in series.values()],
    }
