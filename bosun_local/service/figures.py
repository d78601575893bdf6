"""Per-deployment, per-model, per-minute monitoring figures: merging ingest records into a minute."""
from __future__ import annotations

from typing import Any

from bosun_local.contracts.latency import LatencySketch
from bosun_local.service.custom_metrics import count_event, merge_metric

# Scalar fields summed across the records of one minute.
SUM_FIELDS = ("predictions", "userErrors", "systemErrors", "executionTimeMs", "rows", "predictionSum")


def empty_minute(deployment_id: str, model_id: str, minute: str) -> dict[str, Any]:
    """Return a minute with no figures yet."""
    doc: dict[str, Any] = {"deploymentId": deployment_id, "modelId": model_id, "minute": minute, "records": 0}
    doc.update({name: 0 for name in SUM_FIELDS})
    doc.update({"latencySketch": None, "predictionCounts": [], "featureCounts": {}})
    return doc


def add_counts(into: list[int | float], more: list[int | float]) -> list[int | float]:
    """Return two count vectors summed element-wise (the shorter padded with zeros)."""
    size = max(len(into), len(more))
    return [(into[i] if i < len(into) else 0) + (more[i] if i < len(more) else 0) for i in range(size)]


def minute_sketch(doc: dict[str, Any]) -> LatencySketch:
    """Return a stored minute's latency sketch (a minute stored before the sketch carries bucket counts)."""
    if doc.get("latencySketch"):
        return LatencySketch.from_wire(doc["latencySketch"])
    if doc.get("latencyCounts"):
        return LatencySketch.from_legacy_counts(doc["latencyCounts"])
    return LatencySketch()


def requests_figures(record: dict[str, Any], keep: list[int] | None) -> dict[str, Any]:
    """Return the figures of a `requests` record's columns (only the rows `keep` lists, all when None)."""
    columns = record["requests"]

    def kept(name: str) -> list[Any]:
        values: list[Any] = columns[name]
        return values if keep is None else [values[i] for i in keep]

    times = kept("executionTimeMs")
    sketch = LatencySketch()
    sketch.add_many(times)
    return {"deploymentId": record["deploymentId"], "modelId": record["modelId"], "minute": record["minute"],
            "records": len(times), "predictions": sum(kept("predictions")), "userErrors": sum(kept("userErrors")),
            "systemErrors": sum(kept("systemErrors")), "executionTimeMs": sum(times),
            "latencySketch": sketch.to_wire()}


def merge_record(doc: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """Add one ingest record's figures (or a `requests` record's) to a minute and return it."""
    doc["records"] += record.get("records", 1)
    for name in SUM_FIELDS:
        doc[name] = doc.get(name, 0) + (record.get(name) or 0)
    if record.get("latencySketch"):
        doc["latencySketch"] = minute_sketch(doc).merge(LatencySketch.from_wire(record["latencySketch"])).to_wire()
        doc.pop("latencyCounts", None)
    if record.get("predictionCounts"):
        doc["predictionCounts"] = add_counts(doc["predictionCounts"], record["predictionCounts"])
    for feature, counts in (record.get("featureCounts") or {}).items():
        doc["featureCounts"][feature] = add_counts(doc["featureCounts"].get(feature, []), counts)
    if record.get("customMetric"):
        merge_metric(doc, record["customMetric"])
    if record.get("event"):
        count_event(doc, record["event"])
    return doc
