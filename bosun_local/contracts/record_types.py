"""Validation of the record types beyond stats and raw predictions: actuals, aggregates, metrics, events, pings,
and our packed stats."""
from __future__ import annotations

import math
from typing import Any, TypeGuard

from bosun_local.contracts import packed_stats
from bosun_local.contracts.record_bounds import count_problem, short
from bosun_local.contracts.records import DEPLOYMENT_STATS_PACKED, LEGACY_DATA_TYPES, RecordError, parse_timestamp


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise RecordError(f"data.{key} must be an object, got {type(value).__name__}")
    return value


def check(data_type: str, data: dict[str, Any]) -> None:
    """Check a record's data for its type; raise RecordError naming the first bad field."""
    if data_type in LEGACY_DATA_TYPES:
        raise RecordError(f"header.dataType {data_type!r} is a legacy type no datarobot-mlops report_* call writes "
                          "any more; re-send the data with report_predictions_data or "
                          "report_aggregated_predictions_data")
    checks = {"ACTUALS_DATA": _actuals, "PREDICTION_STATS": _stats, "CUSTOM_METRIC": _metric, "EVENT": _event,
              "PING_MSG": _ping, DEPLOYMENT_STATS_PACKED: packed_stats.check}
    checks[data_type](data)


def _actuals(data: dict[str, Any]) -> None:
    rows = data.get("actualsList")
    if not isinstance(rows, list) or not rows:
        raise RecordError("data.actualsList must be a non-empty list of actuals")
    for i, row in enumerate(rows):
        where = f"data.actualsList[{i}]"
        if not isinstance(row, dict):
            raise RecordError(f"{where} must be an object with associationId and actualValue")
        key = row.get("associationId")
        if not isinstance(key, str) or not key:
            raise RecordError(f"{where}.associationId must be a non-empty string, got {short(key)}")
        value = row.get("actualValue")
        if not (_number(value) or isinstance(value, str)):
            raise RecordError(f"{where}.actualValue must be a number or a label, got {short(value)}")
        if "wasActedOn" in row and not isinstance(row["wasActedOn"], bool):
            raise RecordError(f"{where}.wasActedOn must be true or false, got {row['wasActedOn']!r}")
        if row.get("timestamp") is not None:
            parse_timestamp(row["timestamp"])


def _numeric_aggregate(agg: Any, where: str) -> None:
    if not isinstance(agg, dict):
        raise RecordError(f"{where} must be an object")
    for key in ("count", "missingCount"):
        problem = count_problem(agg.get(key))
        if problem:
            raise RecordError(f"{where}.{key} {problem}")
    if agg["count"] and not _number(agg.get("sum")):
        raise RecordError(f"{where}.sum must be a number, got {short(agg.get('sum'))}")
    buckets = (agg.get("histogram") or {}).get("bucketList")
    if not isinstance(buckets, list):
        raise RecordError(f"{where}.histogram.bucketList must be a list")
    for b in buckets:
        if not isinstance(b, dict) or not _number(b.get("centroid")) or not isinstance(b.get("count"), int):
            raise RecordError(f"{where}.histogram.bucketList has a bad bucket {short(b)}")


def _categorical_aggregate(agg: Any, where: str) -> None:
    if not isinstance(agg, dict) or not isinstance(agg.get("categoryCounts"), dict):
        raise RecordError(f"{where}.categoryCounts must be an object of category -> count")
    if not all(count_problem(n) is None for n in agg["categoryCounts"].values()):
        raise RecordError(f"{where}.categoryCounts must count with integers from 0 to a plausible maximum")


def _stats(data: dict[str, Any]) -> None:
    for name, agg in _object(data, "numericAggregateMap").items():
        _numeric_aggregate(agg, f"data.numericAggregateMap.{name}")
    for name, agg in _object(data, "categoricalAggregateMap").items():
        _categorical_aggregate(agg, f"data.categoricalAggregateMap.{name}")
    predictions = _object(data, "predictionAggregateMap")
    for name, agg in predictions.items():
        _numeric_aggregate(agg, f"data.predictionAggregateMap.{name}")
    counts = {agg["count"] + agg["missingCount"] for agg in predictions.values()}
    if len(counts) > 1:
        raise RecordError(f"data.predictionAggregateMap classes count different rows: {sorted(counts)}")
    names = data.get("classNames")
    if names is not None and list(predictions) != names:
        raise RecordError(f"data.predictionAggregateMap keys {list(predictions)} differ from data.classNames {names}")


def stats_rows(data: dict[str, Any]) -> int:
    """Return the rows a PREDICTION_STATS object aggregates."""
    for agg in (data.get("predictionAggregateMap") or {}).values():
        return int(agg["count"]) + int(agg["missingCount"])
    rows = [int(a["count"]) + int(a["missingCount"]) for key in ("numericAggregateMap", "categoricalAggregateMap")
            for a in (data.get(key) or {}).values()]
    return max(rows, default=0)


def _metric(data: dict[str, Any]) -> None:
    metric = data.get("customMetricId")
    if not isinstance(metric, str) or not metric:
        raise RecordError(f"data.customMetricId must be a non-empty string, got {metric!r}")
    buckets = data.get("buckets")
    if not isinstance(buckets, list) or not buckets:
        raise RecordError("data.buckets must be a non-empty list of {timestamp, value}")
    for i, bucket in enumerate(buckets):
        value = bucket.get("value") if isinstance(bucket, dict) else None
        if not _number(value) or not math.isfinite(value):
            raise RecordError(f"data.buckets[{i}].value must be a finite number, got {short(value)}")
        parse_timestamp(bucket.get("timestamp"))


def _event(data: dict[str, Any]) -> None:
    for key in ("eventType", "message"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise RecordError(f"data.{key} must be a non-empty string, got {data.get(key)!r}")
    if data.get("data") is not None and not isinstance(data["data"], dict):
        raise RecordError(f"data.data must be an object, got {type(data['data']).__name__}")


def _ping(data: dict[str, Any]) -> None:
    if not isinstance(data.get("message"), str):
        raise RecordError(f"data.message must be a string, got {data.get('message')!r}")
