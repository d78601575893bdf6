"""Ingest entries of the record types beyond raw stats and predictions: client-side aggregates, custom metrics,
events and pings (datarobot-mlops' PREDICTION_STATS, CUSTOM_METRIC, EVENT, PING_MSG).

A PREDICTION_STATS record counts like the raw rows it summarizes: rows, prediction sum, and the baseline bins
filled from its centroid histograms (each bucket's count goes to the bin holding its centroid, exact whenever a
bucket holds one distinct value) and category counts.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from bosun_local.contracts.records import Record, parse_timestamp, stats_rows
from bosun_local.monitoring.baselines import CATEGORICAL, Baseline, Bins

log = logging.getLogger("bosun_local.monitoring")
Entry = dict[str, Any]
# DataRobot event types -> the service's event statuses.
_STATUS_SUFFIXES = (("_red", "failing"), ("_yellow_from_green", "warning"), ("_green", "passing"))
_FAILING_TYPES = {"prediction_request.failed"}
_WARNING_TYPES = {"externalNaNPredictions"}


def weighted_counts(bins: Bins, values: Sequence[Any], weights: Sequence[int]) -> list[int]:
    """Return per-bin totals of weights, each placed by its value (numbers by edge, labels by category)."""
    if bins.kind == CATEGORICAL:
        out = [0] * bins.size
        other = len(bins.categories)
        for value, weight in zip(values, weights, strict=True):
            key = value if isinstance(value, str) else str(value)
            out[bins.index.get(key, other)] += int(weight)
        return out
    positions = np.searchsorted(bins.edges, np.asarray(values, dtype=float), side="right")
    totals = np.bincount(positions, weights=np.asarray(weights, dtype=float), minlength=bins.size)
    return [int(round(t)) for t in totals]


def _histogram(agg: dict[str, Any]) -> tuple[list[float], list[int]]:
    buckets = (agg.get("histogram") or {}).get("bucketList") or []
    return [float(b["centroid"]) for b in buckets], [int(b["count"]) for b in buckets]


def _feature_counts(bins: Bins, numeric: dict[str, Any] | None, categorical: dict[str, Any] | None) -> list[int] | None:
    if numeric is not None:
        centroids, counts = _histogram(numeric)
        if bins.kind == CATEGORICAL:  # a numeric-looking category column aggregated as numbers
            return weighted_counts(bins, [_label(c) for c in centroids], counts)
        return weighted_counts(bins, centroids, counts)
    if categorical is not None:
        pairs = list((categorical.get("categoryCounts") or {}).items())
        if bins.kind == CATEGORICAL:
            return weighted_counts(bins, [k for k, _ in pairs], [n for _, n in pairs])
        values = [float(k) if _is_number(k) else np.nan for k, _ in pairs]
        kept = [(v, n) for v, (_, n) in zip(values, pairs, strict=True) if v == v]
        return weighted_counts(bins, [v for v, _ in kept], [n for _, n in kept])
    return None


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def positive_class(names: Sequence[str]) -> str:
    """Return the class whose probability drift and means use: the last one (sklearn's positive class)."""
    return names[-1]


def stats_entry(record: Record, base: Entry, baseline: Baseline | None) -> Entry:
    """Return the predictions entry of a PREDICTION_STATS record, counted like the raw rows it summarizes."""
    data = record.data
    predictions: dict[str, Any] = data.get("predictionAggregateMap") or {}
    names = list(predictions)
    entry = {**base, "kind": "predictions"}
    entry["rows"] = stats_rows(data)
    numeric_pred: dict[str, Any] | None = None
    if len(names) == 1:
        numeric_pred = predictions[names[0]]
    elif len(names) == 2:
        numeric_pred = predictions[positive_class(names)]
    entry["predictionSum"] = float(numeric_pred.get("sum") or 0.0) if numeric_pred else 0.0
    if baseline is None:
        return entry
    if baseline.prediction is not None and names:
        bins = baseline.prediction
        if bins.kind == CATEGORICAL and len(names) > 1:
            entry["predictionCounts"] = weighted_counts(
                bins, names, [int(predictions[n].get("decisionCount") or 0) for n in names])
        elif bins.kind != CATEGORICAL and numeric_pred is not None:
            centroids, counts = _histogram(numeric_pred)
            entry["predictionCounts"] = weighted_counts(bins, centroids, counts)
    numeric = data.get("numericAggregateMap") or {}
    categorical = data.get("categoricalAggregateMap") or {}
    feature_counts: dict[str, Any] = {}
    for name, bins in baseline.features.items():
        got = _feature_counts(bins, numeric.get(name), categorical.get(name))
        if got is not None:
            feature_counts[name] = got
    if feature_counts:
        entry["featureCounts"] = feature_counts
    return entry


def _iso(text: Any) -> str:
    return parse_timestamp(text).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def metric_entry(record: Record, base: Entry) -> Entry:
    """Return the entry of a CUSTOM_METRIC record: its metric id, scope and (time, value) buckets."""
    data = record.data
    buckets: list[dict[str, Any]] = [{"timestamp": _iso(b["timestamp"]), "value": float(b["value"])}
                                     for b in data["buckets"]]
    model = data.get("modelId")
    minute = min(b["timestamp"] for b in buckets)[:16] + ":00Z"
    return {**base, "kind": "customMetric", "minute": minute,
            "customMetric": {"metricId": data["customMetricId"], "modelId": model, "buckets": buckets}}


def event_status(event_type: str) -> str:
    """Return the service status of a DataRobot event type (red failing, yellow warning, green passing)."""
    if event_type in _FAILING_TYPES:
        return "failing"
    if event_type in _WARNING_TYPES:
        return "warning"
    for suffix, status in _STATUS_SUFFIXES:
        if event_type.endswith(suffix):
            return status
    return "info"


def event_entry(record: Record, base: Entry) -> Entry:
    """Return the entry of an EVENT record, which the service turns into a deployment event once."""
    data = record.data
    event_type = data["eventType"]
    return {**base, "kind": "event",
            "event": {"type": event_type, "status": event_status(event_type), "message": data["message"],
                      "orgId": data.get("orgId"), "data": data.get("data") or {},
                      "time": _iso(data["timestamp"])}}


def log_ping(record: Record) -> None:
    """Acknowledge a PING_MSG: say so in the log (the spool works end to end); nothing goes to the service."""
    log.info("ping from a reporting app via the spool: %r (record %s, sent %s)", record.data.get("message"),
             record.id, record.data.get("timestamp"))
