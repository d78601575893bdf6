"""Custom metrics (datarobot-mlops' report_deployment_metric / report_model_metric) and events apps report.

Each minute of figures keeps, per (metric, model), count, sum, min, max and the latest value; stats over a window
merge the minutes and grade each metric against optional thresholds from the deployment's keyValueConfig:
`customMetric.<id>.atRisk`, `customMetric.<id>.failing` (numbers), `customMetric.<id>.direction`
(`lowerIsBetter`, the default, or `higherIsBetter`) and `customMetric.<id>.aggregation` (`average`, the
default, `sum` or `gauge` = the latest value), as DataRobot's custom metrics have them.
"""
from __future__ import annotations

from typing import Any

from bosun_local.service.context import ServiceContext
from bosun_local.service.events import record_event
from bosun_local.service.storage.base import Row

AGGREGATIONS = ("average", "sum", "gauge")
DIRECTIONS = ("lowerIsBetter", "higherIsBetter")


def metric_key(metric_id: str, model_id: str | None) -> str:
    """Return the key of a (metric, model) pair in a minute's figures ('' model: a deployment metric)."""
    return f"{metric_id}|{model_id or ''}"


def merge_metric(doc: Row, metric: dict[str, Any]) -> None:
    """Add one customMetric entry's buckets to a minute's figures."""
    figures = doc.setdefault("customMetrics", {})
    key = metric_key(metric["metricId"], metric.get("modelId"))
    agg = figures.setdefault(key, {"metricId": metric["metricId"], "modelId": metric.get("modelId"), "count": 0,
                                   "sum": 0.0, "min": None, "max": None, "last": None, "lastTime": None})
    merge_figures(agg, [(b["timestamp"], float(b["value"])) for b in metric["buckets"]])


def merge_figures(agg: Row, points: list[tuple[str, float]]) -> None:
    """Fold (time, value) points into count, sum, min, max and the latest value (ties: the later arrival)."""
    for when, value in points:
        agg["count"] += 1
        agg["sum"] += value
        agg["min"] = value if agg["min"] is None else min(agg["min"], value)
        agg["max"] = value if agg["max"] is None else max(agg["max"], value)
        if agg["lastTime"] is None or when >= agg["lastTime"]:
            agg["last"], agg["lastTime"] = value, when


def merge_minute_metrics(into: dict[str, Row], minute: dict[str, Row]) -> None:
    """Merge one minute's per-metric figures into window totals."""
    for key, agg in minute.items():
        total = into.setdefault(key, {"metricId": agg["metricId"], "modelId": agg["modelId"], "count": 0,
                                      "sum": 0.0, "min": None, "max": None, "last": None, "lastTime": None})
        total["count"] += agg["count"]
        total["sum"] += agg["sum"]
        for name, pick in (("min", min), ("max", max)):
            if agg[name] is not None:
                total[name] = agg[name] if total[name] is None else pick(total[name], agg[name])
        if agg["lastTime"] is not None and (total["lastTime"] is None or agg["lastTime"] >= total["lastTime"]):
            total["last"], total["lastTime"] = agg["last"], agg["lastTime"]


def metric_settings(dep: Row | None, metric_id: str) -> dict[str, Any]:
    """Return a metric's aggregation, direction and thresholds from the deployment's keyValueConfig."""
    config = (dep or {}).get("keyValueConfig") or {}
    prefix = f"customMetric.{metric_id}."

    def number(name: str) -> float | None:
        try:
            return float(config[prefix + name]) if prefix + name in config else None
        except (TypeError, ValueError):
            return None

    aggregation = str(config.get(prefix + "aggregation", "average"))
    direction = str(config.get(prefix + "direction", "lowerIsBetter"))
    return {"aggregation": aggregation if aggregation in AGGREGATIONS else "average",
            "direction": direction if direction in DIRECTIONS else "lowerIsBetter",
            "atRisk": number("atRisk"), "failing": number("failing")}


def grade(value: float | None, settings: dict[str, Any]) -> str:
    """Return passing/warning/failing of a metric value against its thresholds (unknown without any)."""
    at_risk, failing = settings["atRisk"], settings["failing"]
    if value is None or (at_risk is None and failing is None):
        return "unknown"
    worse = (lambda a, b: a <= b) if settings["direction"] == "higherIsBetter" else (lambda a, b: a >= b)
    if failing is not None and worse(value, failing):
        return "failing"
    if at_risk is not None and worse(value, at_risk):
        return "warning"
    return "passing"


def metrics_figures(dep: Row | None, minutes: list[Row]) -> list[Row]:
    """Return the stats' customMetrics: one entry per (metric, model), sorted, with value and status."""
    totals: dict[str, Row] = {}
    for m in minutes:
        merge_minute_metrics(totals, m.get("customMetrics") or {})
    out = []
    for key in sorted(totals):
        agg = totals[key]
        settings = metric_settings(dep, agg["metricId"])
        mean = agg["sum"] / agg["count"] if agg["count"] else None
        value = {"average": mean, "sum": agg["sum"], "gauge": agg["last"]}[settings["aggregation"]]
        out.append({"metricId": agg["metricId"], "modelId": agg["modelId"], "count": agg["count"],
                    "sum": agg["sum"], "mean": mean, "min": agg["min"], "max": agg["max"], "last": agg["last"],
                    "lastTime": agg["lastTime"], "aggregation": settings["aggregation"], "value": value,
                    "direction": settings["direction"], "atRisk": settings["atRisk"], "failing": settings["failing"],
                    "status": grade(value, settings)})
    return out


def count_event(doc: Row, event: dict[str, Any]) -> None:
    """Count a reported event in a minute's figures by its type."""
    counts = doc.setdefault("reportedEvents", {})
    counts[event["type"]] = counts.get(event["type"], 0) + 1


def events_figures(minutes: list[Row]) -> dict[str, int]:
    """Return how many events of each type apps reported in the window."""
    out: dict[str, int] = {}
    for m in minutes:
        for type_, n in (m.get("reportedEvents") or {}).items():
            out[type_] = out.get(type_, 0) + n
    return dict(sorted(out.items()))


def store_reported_event(ctx: ServiceContext, record: Row) -> None:
    """Record an app's event (from an EVENT spool record) as a deployment event."""
    event = record["event"]
    data = {**(event.get("data") or {}), "recordId": record["recordId"], "source": "reporting library"}
    if event.get("orgId"):
        data["orgId"] = event["orgId"]
    record_event(ctx, event["type"][:100], event["status"], event["message"], deployment_id=record["deploymentId"],
                 data=data, time=event.get("time"))
