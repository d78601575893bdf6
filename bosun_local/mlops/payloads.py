"""The `data` objects of every record type, with datarobot-mlops' field names, order and splitting rules."""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from typing import Any

import orjson

from bosun_local.mlops.event import Event
from bosun_local.mlops.exceptions import DRApiException, DRCommonException, DRUnsupportedType

Data = dict[str, Any]
# Row-aligned fields of a PREDICTIONS_DATA object, split together with the predictions.
_ROW_FIELDS = ("associationIds", "forecastDistance", "rowIndex", "partition", "seriesId")
# Copied unchanged into every part of a split PREDICTIONS_DATA object.
_WHOLE_FIELDS = ("classNames", "requestParameters", "skipDriftTracking", "skipAccuracyTracking")
REQUEST_PARAMETERS = {"forecast_point": "forecastPoint", "predictions_start_date": "predictionsStartDate",
                      "predictions_end_date": "predictionsEndDate",
                      "relax_kia_check": "relaxKnownInAdvanceFeaturesCheck",
                      "relax_seen_cross_series_check": "relaxSeenCrossSeriesCheck",
                      "relax_insufficient_history_check": "relaxInsufficientHistoryCheck"}
ISO_MICROS = "%Y-%m-%dT%H:%M:%S.%fZ"


def dr_timestamp(moment: datetime | None) -> str | None:
    """Return a time as the spool writes it: `2026-12-01 04:58:17.747+0000` (ms; no zone for naive times)."""
    if moment is None:
        return None
    text = moment.strftime("%Y-%m-%d %H:%M:%S.%f%z")
    return text[:23] + text[26:]


def now_timestamp() -> str:
    """Return the current local time with its UTC offset, in the spool's format."""
    return dr_timestamp(datetime.now().astimezone())  # type: ignore[return-value]


def general(timestamp: str | None, model_id: str | None, batch_id: str | None, *, model_always: bool) -> Data:
    """Return the leading timestamp/modelId/batchId fields (modelId kept even when null where the spool does)."""
    data: Data = {"timestamp": timestamp}
    if model_always or model_id:
        data["modelId"] = model_id
    if batch_id:
        data["batchId"] = batch_id
    return data


def deployment_stats(model_id: str | None, num_predictions: int, execution_time_ms: float, user_error: Any,
                     system_error: Any, batch_id: str | None = None, timestamp: str | None = None) -> Data:
    """Return a DEPLOYMENT_STATS object."""
    data = general(timestamp or now_timestamp(), model_id, batch_id, model_always=True)
    data.update({"numPredictions": num_predictions, "executionTime": execution_time_ms, "userError": user_error,
                 "systemError": system_error})
    return data


# The plain types of a column's values, checked with one set per column (the fast paths of bulk reports).
PLAIN_BOOL, PLAIN_INT, PLAIN_NUMBER = {bool}, {int}, {int, float}


def deployment_stats_quoted(model_id: str | None, timestamp: str, counts: Sequence[int], times: Sequence[float],
                            users: Sequence[bool], systems: Sequence[bool],
                            numbers_checked: bool = False) -> list[str] | None:
    """Return each request's DEPLOYMENT_STATS data as a quoted JSON string, as encoding deployment_stats() twice does.

    None when a value is not a plain int/float/bool (the general path encodes it). A server reports thousands of
    requests a second: one orjson call per column instead of two per record keeps that off its CPU.
    numbers_checked: the caller already found counts plain ints and times plain numbers.
    """
    # Type sets (one C loop per column), not a generator per value: this runs once per request served.
    if not {*map(type, users), *map(type, systems)} <= PLAIN_BOOL or not numbers_checked and (
            not set(map(type, counts)) <= PLAIN_INT or not set(map(type, times)) <= PLAIN_NUMBER):
        return None
    # deployment_stats() itself lays the record out, with marks where the values go: one place owns the fields.
    marked = deployment_stats(model_id, "@n@", "@t@", "@u@", "@s@", timestamp=timestamp)  # type: ignore[arg-type]
    template = orjson.dumps(orjson.dumps(marked).decode()).decode()
    # The marks are JSON strings inside a JSON string: each sits between escaped quotes.
    a, rest = template.split('\\"@n@\\"')
    b, rest = rest.split('\\"@t@\\"')
    c, rest = rest.split('\\"@u@\\"')
    d, e = rest.split('\\"@s@\\"')
    # orjson's own number text, column by column: the bytes stay those of the per-record encoding.
    ns = orjson.dumps(list(counts)).decode()[1:-1].split(",") if counts else []
    ts = orjson.dumps(list(times)).decode()[1:-1].split(",") if times else []
    word = {True: "true", False: "false"}
    return [f"{a}{n}{b}{t}{c}{word[u]}{d}{word[s]}{e}" for n, t, u, s in zip(ns, ts, users, systems, strict=True)]


def _plain_probabilities(predictions: list[Any], width: int, class_names: Sequence[str] | None) -> bool:
    """Return True when every row is a list of `width` (>= 2) float probabilities in [0, 1], none NaN.

    Checked per column of C loops (types, lengths, sum, min, max) instead of per value; any doubt (False) leaves
    the decision, and the message naming the bad row, to the per-row check.
    """
    if width < 2 or (class_names is not None and width != len(class_names)):
        return False
    if set(map(type, predictions)) != {list} or set(map(len, predictions)) != {width}:
        return False
    flat = list(chain.from_iterable(predictions))
    # A NaN makes the sum NaN; an infinity fails the bounds.
    return set(map(type, flat)) == {float} and sum(flat) == sum(flat) and min(flat) >= 0.0 and max(flat) <= 1.0


def nan_prediction_rows(predictions: list[Any], class_names: Sequence[str] | None) -> list[int]:
    """Return the rows whose prediction is NaN; raise DRUnsupportedType/DRCommonException on a malformed list."""
    if not isinstance(predictions, list):
        raise DRUnsupportedType("'predictions' should be a list of probabilities, numbers or strings")
    if class_names is not None:
        if not isinstance(class_names, list):
            raise DRUnsupportedType("'class_names' should be a list")
        if len(class_names) < 2:
            raise DRCommonException("'class_names' should contain at least 2 values")
        if not all(isinstance(c, str) for c in class_names):
            raise DRUnsupportedType("Each class name is expected to be a string")
    if not predictions:
        return []
    first = predictions[0]
    rows: list[int] = []
    if isinstance(first, list):
        width = len(first)
        if _plain_probabilities(predictions, width, class_names):
            return rows
        for i, row in enumerate(predictions):
            if not isinstance(row, list) or len(row) < 2 or len(row) != width or (
                    class_names is not None and len(row) != len(class_names)):
                raise DRCommonException(f"Invalid prediction '{row}' at index '{i}', expecting a list of "
                                        f"{len(class_names) if class_names else width} class probabilities")
            for p in row:
                if not isinstance(p, float) or not (p != p or 0.0 <= p <= 1.0):
                    raise DRCommonException(f"Probability value '{p}' in prediction '{row}' at index '{i}' is not "
                                            "a float value between 0 and 1")
            if any(p != p for p in row):
                rows.append(i)
    elif isinstance(first, int | float) and not isinstance(first, bool):
        total = sum(predictions) if set(map(type, predictions)) <= PLAIN_NUMBER else math.nan
        if total == total:  # plain numbers without a NaN (a NaN makes the sum NaN): nothing to drop, none to refuse
            return rows
        for i, p in enumerate(predictions):
            if isinstance(p, bool) or not isinstance(p, int | float):
                raise DRUnsupportedType(f"Invalid prediction '{p}' at index '{i}', expecting int or float")
            if math.isnan(p):
                rows.append(i)
    elif isinstance(first, str):
        for i, p in enumerate(predictions):
            if not isinstance(p, str):
                raise DRUnsupportedType(f"Invalid prediction '{p}' at index '{i}', expecting a string")
    else:
        raise DRUnsupportedType(f"Predictions with type '{type(first)}' not supported")
    return rows


def check_association_ids(predictions: list[Any], association_ids: list[str]) -> None:
    """Raise DRCommonException unless there is one unique id per prediction."""
    if len(association_ids) != len(predictions):
        raise DRCommonException("Number of predictions and association ids values should be the same",
                                fix="give one association id per prediction")
    if len(set(association_ids)) != len(association_ids):
        raise DRCommonException("All association ids should be unique, "
                                "association ids uniquely identify each individual prediction")


def request_parameters(params: dict[str, Any]) -> Data:
    """Return request parameters with camelCase keys and ISO times; unknown keys are left out."""
    out: Data = {}
    for key, value in params.items():
        name = REQUEST_PARAMETERS.get(key, key if key in REQUEST_PARAMETERS.values() else None)
        if name is not None:
            out[name] = value.strftime(ISO_MICROS) if isinstance(value, datetime) else value
    return out


def predictions_data(model_id: str | None, features: dict[str, list[Any]] | None, predictions: list[Any] | None,
                     association_ids: list[Any] | None = None, class_names: list[str] | None = None,
                     batch_id: str | None = None, *, request_params: Data | None = None,
                     forecast_distance: list[int] | None = None, row_index: list[int] | None = None,
                     partition: list[datetime] | None = None, series_id: list[str] | None = None,
                     skip_drift_tracking: bool = False, skip_accuracy_tracking: bool = False,
                     timestamp: str | None = None) -> Data:
    """Return a PREDICTIONS_DATA object; empty lists and False flags are left out, as the spool does."""
    data = general(timestamp or now_timestamp(), model_id, batch_id, model_always=False)
    if features is not None:
        data["features"] = features
    optional = (("predictions", predictions), ("associationIds", association_ids), ("classNames", class_names),
                ("requestParameters", request_params), ("forecastDistance", forecast_distance),
                ("rowIndex", row_index),
                ("partition", [p.strftime(ISO_MICROS) for p in partition] if partition else None),
                ("seriesId", series_id), ("skipDriftTracking", skip_drift_tracking),
                ("skipAccuracyTracking", skip_accuracy_tracking))
    for name, value in optional:
        if value:
            data[name] = value
    return data


def rows_of(data: Data) -> int:
    """Return the rows of a PREDICTIONS_DATA object (features and predictions may differ for time series)."""
    features = data.get("features")
    feature_rows = len(next(iter(features.values()))) if features else 0
    return max(feature_rows, len(data.get("predictions") or []))


def split_predictions(data: Data, rows_per_message: int) -> list[Data]:
    """Return the object cut into parts of at most rows_per_message rows (itself when it fits)."""
    total = rows_of(data)
    if rows_per_message <= 0 or total <= rows_per_message:
        return [data]
    parts = []
    for start in range(0, total, rows_per_message):
        end = min(start + rows_per_message, total)
        part: Data = {"timestamp": data["timestamp"], "modelId": data.get("modelId")}
        if "batchId" in data:
            part["batchId"] = data["batchId"]
        features = data.get("features")
        if features and start < len(next(iter(features.values()))):
            part["features"] = {k: v[start:end] for k, v in features.items()}
        predictions = data.get("predictions")
        if predictions is not None and start < len(predictions):
            part["predictions"] = predictions[start:end]
            for name in _ROW_FIELDS:
                if name in data:
                    part[name] = data[name][start:end]
        for name in _WHOLE_FIELDS:
            if name in data:
                part[name] = data[name]
        parts.append(part)
    return parts


def actual_row(actual: Any) -> Data:
    """Return one actual with a string associationId and a formatted timestamp; raise on a malformed one."""
    if not isinstance(actual, dict):
        raise DRUnsupportedType("Each actual should be of type dict")
    if "actualValue" not in actual:
        raise DRApiException(f"'actualValue' missing in '{actual}'")
    if isinstance(actual["actualValue"], bool) or not isinstance(actual["actualValue"], float | int | str):
        raise DRUnsupportedType(f"'actualValue' must be either string, int or float, '{actual}'")
    if "associationId" not in actual:
        raise DRApiException(f"'associationId' missing in '{actual}'")
    if "wasActedOn" in actual and not isinstance(actual["wasActedOn"], bool):
        raise DRUnsupportedType(f"'wasActedOn' should be bool, '{actual}'")
    row = dict(actual)
    row["associationId"] = str(row["associationId"])
    if isinstance(row.get("timestamp"), datetime):
        row["timestamp"] = dr_timestamp(row["timestamp"])
    return row


def actuals_data(rows: list[Data], model_id: str | None, batch_id: str | None = None) -> Data:
    """Return an ACTUALS_DATA object (it has no timestamp of its own)."""
    data: Data = {"actualsList": rows}
    if model_id:
        data["modelId"] = model_id
    if batch_id:
        data["batchId"] = batch_id
    return data


def custom_metric(model_id: str | None, metric_id: str, values: list[Any], timestamps: list[str | None],
                  coordinates: list[str | None] | None = None) -> Data:
    """Return a CUSTOM_METRIC object: one bucket per value."""
    buckets = []
    for i, (value, ts) in enumerate(zip(values, timestamps, strict=True)):
        bucket: Data = {"timestamp": ts, "value": value}
        if coordinates is not None and coordinates[i] is not None:
            bucket["geospatialCoordinate"] = coordinates[i]
        buckets.append(bucket)
    return {"modelId": model_id, "customMetricId": metric_id, "buckets": buckets}


def metric_timestamp(value: Any) -> Any:
    """Return a custom-metric timestamp as the spool writes it (datetimes formatted, other values unchanged)."""
    return dr_timestamp(value) if isinstance(value, datetime) else value


def event_data(event: Event) -> Data:
    """Return an EVENT object."""
    return {"timestamp": event.get_timestamp(), "eventType": event.get_event_type(),
            "message": getattr(event, "_message", None), "orgId": event.get_org_id(),
            "deploymentId": event.get_entity_id(), "data": event.get_data()}


def ping_data(message: str, created_ms: int, timestamp: str | None = None) -> Data:
    """Return a PING_MSG object."""
    return {"timestamp": timestamp or now_timestamp(), "message": message, "createdTimestamp": created_ms}


def prediction_stats(model_id: str | None, aggregates: Data, class_names: list[str] | None,
                     batch_id: str | None = None, timestamp: str | None = None) -> Data:
    """Return a PREDICTION_STATS object from aggregate.aggregate()'s maps."""
    data = general(timestamp or now_timestamp(), model_id, batch_id, model_always=False)
    if class_names:
        data["classNames"] = class_names
    data.update(aggregates)
    return data
