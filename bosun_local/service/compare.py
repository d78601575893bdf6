"""Champion vs challengers (and canary) side by side: latency, errors, predictions, drift, agreement, accuracy."""
from __future__ import annotations

import math
from datetime import timedelta

from bosun_local.contracts.challengers import feed_of
from bosun_local.service.context import ServiceContext
from bosun_local.service.stats import compute_stats
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import iso, utcnow
from bosun_local.service.traffic import applied, desired, shadow_key

# Two regression predictions agree when within this fraction of the larger one (keyValueConfig agreementTolerance).
DEFAULT_TOLERANCE = 0.05


def _tolerance(dep: Row) -> float:
    try:
        return float((dep.get("keyValueConfig") or {}).get("agreementTolerance", DEFAULT_TOLERANCE))
    except (TypeError, ValueError):
        return DEFAULT_TOLERANCE


def models_of(dep: Row) -> list[tuple[str, str]]:
    """Return (model id, role) of the champion, each challenger and the running canary."""
    models = [(dep["packageId"], "champion")]
    traffic = applied(dep)
    models += [(c["modelId"], "challenger") for c in traffic["challengers"]]
    canary = dep.get("canary") or {}
    if canary.get("status") == "running":
        models.append((canary["modelId"], "canary"))
    return models


def _accuracy(figures: Row) -> Row:
    if figures["labelled"]:
        return {"matched": figures["labelled"], "metric": "accuracy", "value": figures["correct"] / figures["labelled"]}
    if figures["n"]:
        return {"matched": figures["n"], "metric": "rmse", "value": math.sqrt(figures["squares"] / figures["n"]),
                "mae": figures["absolute"] / figures["n"]}
    return {"matched": 0, "metric": None, "value": None}


def compare(ctx: ServiceContext, dep: Row, window: int) -> Row:
    """Return one row per model of the deployment over the last `window` seconds."""
    since = iso(utcnow() - timedelta(seconds=window))
    tolerance = _tolerance(dep)
    wanted = {c["modelId"] for c in desired(ctx, dep)["challengers"]}
    feeds = {c["modelId"]: feed_of(c) for c in [*desired(ctx, dep)["challengers"], *applied(dep)["challengers"]]}
    rows = []
    for model_id, role in models_of(dep) + [(m, "challenger") for m in sorted(wanted)
                                             if m not in {c["modelId"] for c in applied(dep)["challengers"]}]:
        stats = compute_stats(ctx, dep["id"], window, model_id=model_id)
        key = shadow_key(dep["id"], model_id) if role == "challenger" else dep["id"]
        figures = ctx.storage.agreement(dep["id"], key, since, tolerance)
        package = ctx.storage.get_package(model_id)
        errors = stats["userErrors"] + stats["systemErrors"]
        rows.append({
            "modelId": model_id, "role": role, "packageName": package["name"] if package else None,
            "feed": feeds.get(model_id) if role == "challenger" else None,
            "predictions": stats["predictions"], "errors": errors, "errorRate": stats["errorRate"],
            "latencyP50Ms": stats["latencyP50Ms"], "latencyP95Ms": stats["latencyP95Ms"],
            "serviceHealth": stats["serviceHealth"], "predictionRows": stats["predictionRows"],
            "predictionMean": stats["predictionMean"], "drift": stats["drift"],
            "agreement": {"compared": figures["common"], "agreed": figures["agree"],
                          "rate": figures["agree"] / figures["common"] if figures["common"] else None,
                          "tolerance": tolerance},
            "accuracy": _accuracy(figures),
        })
    return {"deploymentId": dep["id"], "window": window, "models": rows}
