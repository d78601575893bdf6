"""Stats over a time window: totals, latency percentiles, service health and drift (PSI vs the baseline)."""
from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from bosun_local.contracts.latency import percentile
from bosun_local.service.api_errors import not_found
from bosun_local.service.context import ServiceContext
from bosun_local.service.figures import add_counts
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import minute_iso, utcnow

DEFAULT_THRESHOLDS = {"errorRateWarn": 0.05, "errorRateFail": 0.20, "latencyP95WarnMs": 500.0,
                      "latencyP95FailMs": 2000.0, "driftWarn": 0.10, "driftFail": 0.25,
                      # PSI of a handful of rows says nothing: below this many rows drift stays unknown.
                      "driftMinRows": 100.0}
PSI_FLOOR = 1e-4  # empty bins would make PSI infinite; DataRobot-style smoothing


def service_thresholds(ctx: ServiceContext) -> dict[str, float]:
    """Return the service-wide thresholds: defaults overridden by stored settings."""
    return {**DEFAULT_THRESHOLDS, **(ctx.storage.get_setting("thresholds") or {})}


def thresholds_for(ctx: ServiceContext, dep: Row | None) -> dict[str, float]:
    """Return the thresholds of a deployment: service ones overridden by numeric keyValueConfig entries."""
    values = service_thresholds(ctx)
    for key, raw in ((dep or {}).get("keyValueConfig") or {}).items():
        if key in DEFAULT_THRESHOLDS:
            try:
                values[key] = float(raw)
            except (TypeError, ValueError):
                continue
    return values


def psi(expected: list[float], counts: list[int | float]) -> float | None:
    """Return the population stability index of observed counts against baseline proportions."""
    total = sum(counts)
    if total <= 0 or len(counts) != len(expected):
        return None
    value = 0.0
    for e, c in zip(expected, counts, strict=True):
        e, a = max(e, PSI_FLOOR), max(c / total, PSI_FLOOR)
        value += (a - e) * math.log(a / e)
    return round(value, 6)


def grade(value: float | None, warn: float, fail: float) -> str:
    """Return passing/warning/failing for a figure against its thresholds (unknown without a figure)."""
    if value is None:
        return "unknown"
    return "failing" if value >= fail else "warning" if value >= warn else "passing"


def worst(*statuses: str) -> str:
    """Return the worst of several statuses."""
    order = ["failing", "warning", "passing", "unknown"]
    known = [s for s in statuses if s != "unknown"]
    return min(known, key=order.index) if known else "unknown"


def compute_stats(ctx: ServiceContext, dep_id: str, window: int) -> dict[str, Any]:
    """Return the contract's stats JSON for the last `window` seconds (whole minutes)."""
    dep = ctx.storage.get_deployment(dep_id) or ctx.storage.find_deployment_by_name(dep_id)
    key = dep["id"] if dep else dep_id
    minutes = list(ctx.storage.minute_figures(key, minute_iso(utcnow() - timedelta(seconds=window))))
    if dep is None and not minutes:
        raise not_found("deployment", dep_id, "deployments list")
    limits = thresholds_for(ctx, dep)
    totals = {"predictions": 0, "userErrors": 0, "systemErrors": 0, "rows": 0, "predictionSum": 0.0,
              "actualsMatched": 0, "absErrorSum": 0.0, "correct": 0}
    latency: list[int | float] = []
    series: dict[str, dict[str, Any]] = {}
    for m in minutes:
        for name in totals:
            totals[name] += m.get(name, 0)
        latency = add_counts(latency, m["latencyCounts"])
        point = series.setdefault(m["minute"], {"minute": m["minute"], "predictions": 0, "errors": 0, "lat": []})
        point["predictions"] += m["predictions"]
        point["errors"] += m["userErrors"] + m["systemErrors"]
        point["lat"] = add_counts(point["lat"], m["latencyCounts"])
    errors = totals["userErrors"] + totals["systemErrors"]
    requests = totals["predictions"] + errors
    error_rate = errors / requests if requests else None
    p95 = percentile(latency, 0.95) if latency else None
    health = worst(grade(error_rate, limits["errorRateWarn"], limits["errorRateFail"]),
                   grade(p95, limits["latencyP95WarnMs"], limits["latencyP95FailMs"]))
    return {
        "deploymentId": key, "window": window, "predictions": totals["predictions"],
        "userErrors": totals["userErrors"], "systemErrors": totals["systemErrors"], "errorRate": error_rate,
        "latencyP50Ms": percentile(latency, 0.5) if latency else None, "latencyP95Ms": p95,
        "latencyP99Ms": percentile(latency, 0.99) if latency else None, "serviceHealth": health,
        "drift": _drift(ctx, dep, minutes, limits), "thresholds": limits,
        "predictionRows": totals["rows"],
        "predictionMean": totals["predictionSum"] / totals["rows"] if totals["rows"] else None,
        "actuals": _actuals(totals),
        "series": [{"minute": p["minute"], "predictions": p["predictions"], "errors": p["errors"],
                    "latencyP50Ms": percentile(p["lat"], 0.5) if p["lat"] else None,
                    "latencyP95Ms": percentile(p["lat"], 0.95) if p["lat"] else None} for p in series.values()],
    }


def _actuals(totals: dict[str, Any]) -> dict[str, Any]:
    matched = totals["actualsMatched"]
    return {"matched": matched, "meanAbsError": totals["absErrorSum"] / matched if matched else None,
            "accuracy": totals["correct"] / matched if matched else None}


def _drift(ctx: ServiceContext, dep: Row | None, minutes: list[Row], limits: dict[str, float]) -> dict[str, Any]:
    """Return PSI of predictions and features of the current model's minutes against its package baseline."""
    baseline = ctx.storage.get_baseline(dep["packageId"]) if dep else None
    if baseline is None:
        return {"status": "unknown", "prediction": None, "features": {}}
    current = [m for m in minutes if m["modelId"] == dep["packageId"]]  # type: ignore[index]
    prediction_counts: list[int | float] = []
    feature_counts: dict[str, list[int | float]] = {}
    for m in current:
        prediction_counts = add_counts(prediction_counts, m["predictionCounts"])
        for name, counts in m["featureCounts"].items():
            feature_counts[name] = add_counts(feature_counts.get(name, []), counts)
    pred = baseline.get("prediction")
    prediction_psi = psi(pred["proportions"], prediction_counts) if pred else None
    features = {name: psi(bins["proportions"], feature_counts.get(name, []))
                for name, bins in baseline["features"].items()}
    values = [v for v in [prediction_psi, *features.values()] if v is not None]
    rows = int(sum(m.get("rows") or 0 for m in current))
    enough = rows >= limits["driftMinRows"]
    status = grade(max(values), limits["driftWarn"], limits["driftFail"]) if values and enough else "unknown"
    return {"status": status, "prediction": prediction_psi, "features": features, "rows": rows}
