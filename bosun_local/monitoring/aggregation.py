"""Turn parsed spool records into the service's ingest entries (one per record), vectorised per column."""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from bosun_local.contracts import packed_stats
from bosun_local.contracts.latency import LatencySketch
from bosun_local.contracts.records import (
    ACTUALS,
    ACTUALS_DATA,
    CUSTOM_METRIC,
    DEPLOYMENT_STATS,
    DEPLOYMENT_STATS_PACKED,
    EVENT,
    PING_MSG,
    PREDICTION_STATS,
    PREDICTIONS_DATA,
    Record,
)
from bosun_local.monitoring import record_entries
from bosun_local.monitoring.baselines import CATEGORICAL, Baseline, BaselineCache, to_floats

Entry = dict[str, Any]
# Records of apps that never set a model id still need one on the wire.
UNKNOWN_MODEL = "unknown"
# A UTC time written the way both libraries write it: its minute is a slice of the text, no parsing needed.
# Requests one folded `requests` entry holds at most (the service takes up to 100,000 record ids in one).
MAX_REQUESTS_PER_ENTRY = 50_000
_UTC_TEXT = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+]00:?00)")


def minute_of(moment: datetime) -> str:
    """Return the UTC minute a moment falls in, as the contract's `2026-11-21T19:43:00Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:00Z")


def record_minute(record: Record) -> str:
    """Return the UTC minute of a record's timestamp; a UTC text is sliced, anything else parsed."""
    text = record.data.get("timestamp")
    if isinstance(text, str) and _UTC_TEXT.fullmatch(text):
        return f"{text[:10]}T{text[11:16]}:00Z"
    return minute_of(record.timestamp)


def _base_entry(record: Record, kind: str) -> Entry:
    return {"recordId": record.id, "deploymentId": record.deployment_id, "modelId": record.model_id or UNKNOWN_MODEL,
            "minute": record_minute(record), "kind": kind}


def stats_entry(record: Record) -> Entry:
    """Return the entry of a DEPLOYMENT_STATS record: one request of numPredictions rows."""
    data = record.data
    elapsed = float(data["executionTime"])
    latency = LatencySketch()
    latency.add(elapsed)
    entry = _base_entry(record, "stats")
    # Errors count requests (a record is one reported request), like the latency histogram.
    entry.update({"predictions": int(data["numPredictions"]), "userErrors": int(bool(data.get("userError"))),
                  "systemErrors": int(bool(data.get("systemError"))), "executionTimeMs": elapsed,
                  "latencySketch": latency.to_wire()})
    return entry


class RequestsFolder:
    """DEPLOYMENT_STATS records of a batch (and packed ones) as `requests` entries of columns, one per deployment,
    model and minute, up to MAX_REQUESTS_PER_ENTRY requests each.

    One entry of columns instead of one entry (with its own latency sketch) per record: the service counts each
    record id once and builds the minute's sketch from the columns, so the figures are those of the records. A
    packed record's requests count as the records `<id>:<position>` (bosun_local/contracts/packed_stats.py).
    """

    def __init__(self) -> None:
        self.groups: dict[tuple[str | None, str, str], tuple[Entry, list[Record]]] = {}
        self.full: list[tuple[Entry, list[Record]]] = []

    def add(self, record: Record) -> None:
        """Add one validated DEPLOYMENT_STATS or DEPLOYMENT_STATS_PACKED record to its group."""
        data = record.data
        packed = record.data_type == DEPLOYMENT_STATS_PACKED
        count = len(data["numPredictions"]) if packed else 1
        if not count:
            return  # an empty packed record counts nothing; it is acknowledged with its batch
        key = (record.deployment_id, data.get("modelId") or UNKNOWN_MODEL, record_minute(record))
        group = self.groups.get(key)
        if group is not None and len(group[0]["requests"]["recordIds"]) + count > MAX_REQUESTS_PER_ENTRY:
            self.full.append(self.groups.pop(key))
            group = None
        if group is None:
            columns: Entry = {"recordIds": [], "predictions": [], "executionTimeMs": [], "userErrors": [],
                              "systemErrors": []}
            group = ({"recordId": record.id, "deploymentId": key[0], "modelId": key[1], "minute": key[2],
                      "kind": "requests", "requests": columns}, [])
            self.groups[key] = group
        columns = group[0]["requests"]
        if packed:
            requests = packed_stats.unpack(data)
            columns["recordIds"] += packed_stats.request_ids(record.id, count)
            columns["predictions"] += requests.num_predictions
            columns["executionTimeMs"] += requests.execution_time_ms
            columns["userErrors"] += requests.user_errors
            columns["systemErrors"] += requests.system_errors
        else:
            columns["recordIds"].append(record.id)
            columns["predictions"].append(data["numPredictions"])
            columns["executionTimeMs"].append(data["executionTime"])
            columns["userErrors"].append(bool(data.get("userError")))
            columns["systemErrors"].append(bool(data.get("systemError")))
        group[1].append(record)

    def entries(self) -> list[tuple[Entry, list[Record]]]:
        """Return each group's entry with the records it holds."""
        return [*self.full, *self.groups.values()]


def packed_entry(record: Record) -> Entry | None:
    """Return the `requests` entry of one packed stats record (None when it holds no request)."""
    folder = RequestsFolder()
    folder.add(record)
    return next((entry for entry, _ in folder.entries()), None)


def positive_column(class_names: Sequence[str]) -> int:
    """Return the probability column drift and means use for a classifier: the last class (sklearn's positive)."""
    return len(class_names) - 1


def prediction_values(data: dict[str, Any]) -> tuple[np.ndarray | None, list[str] | None]:
    """Return (numeric values, predicted labels) of a PREDICTIONS_DATA record's predictions."""
    predictions = data.get("predictions")
    if not predictions:
        return None, None
    class_names = data.get("classNames")
    if isinstance(predictions[0], list) and not class_names:
        # datarobot-mlops leaves classNames out when the app gave none: the columns are the classes, in order.
        class_names = [str(i) for i in range(len(predictions[0]))]
    if isinstance(predictions[0], list) and class_names:
        probs = np.asarray(predictions, dtype=float)
        labels = [class_names[i] for i in np.argmax(probs, axis=1)]
        numeric = probs[:, positive_column(class_names)] if len(class_names) == 2 else None
        return numeric, labels
    if isinstance(predictions[0], str):
        return None, [str(p) for p in predictions]
    return to_floats(predictions), None


def validated_rows(data: dict[str, Any]) -> int:
    """Return the rows of an already validated PREDICTIONS_DATA object (Record.rows would validate it again)."""
    for column in (data.get("predictions"), *(data.get("features") or {}).values(), data.get("associationIds")):
        if column is not None:
            return len(column)
    return 0


def associations_of(record: Record, numeric: np.ndarray | None, labels: list[str] | None) -> Entry | None:
    """Return what the service stores per association id of a PREDICTIONS_DATA record (None without ids)."""
    data = record.data
    ids = data.get("associationIds")
    if not ids:
        return None
    assoc: Entry = {"ids": list(map(str, ids)), "timestamp": record.timestamp.isoformat()}
    predictions = data.get("predictions")
    class_names = data.get("classNames")
    if predictions and isinstance(predictions[0], list) and class_names:
        assoc.update({"classNames": list(class_names), "probabilities": predictions})
    elif labels is not None:
        assoc["labels"] = labels
        if class_names:
            assoc["classNames"] = list(class_names)
    elif numeric is not None:
        # NaN is not JSON: a missing prediction travels as null.
        values = numeric.tolist()
        assoc["predictions"] = [None if v != v else v for v in values] if np.isnan(numeric).any() else values
    else:
        return None
    return assoc


def actual_columns(ids: Sequence[Any], values: Sequence[Any], timestamps: Sequence[Any] | None = None,
                   acted: Sequence[Any] | None = None) -> Entry:
    """Return actuals as the service's columns: ids as text, times and wasActedOn only when some are given."""
    columns: Entry = {"associationIds": [i if type(i) is str else str(i) for i in ids], "actualValues": list(values)}
    if timestamps is not None and any(t is not None for t in timestamps):
        columns["timestamps"] = [None if t is None else str(t) for t in timestamps]
    if acted is not None and any(a is not None for a in acted):
        columns["wasActedOn"] = [None if a is None else bool(a) for a in acted]
    return columns


def actuals_entry_from_rows(record: Record, rows: Sequence[dict[str, Any]]) -> Entry:
    """Return the entry forwarding actuals ({associationId, actualValue, timestamp?, wasActedOn?}) to the service.

    The service joins them to predictions durably, whichever agent delivered either side and in whichever order.
    """
    entry = _base_entry(record, "actuals")
    entry["actualColumns"] = actual_columns([r["associationId"] for r in rows], [r["actualValue"] for r in rows],
                                            [r.get("timestamp") for r in rows], [r.get("wasActedOn") for r in rows])
    return entry


def _with_associations(entry: Entry, record: Record, numeric: np.ndarray | None, labels: list[str] | None) -> Entry:
    """Add the record's association ids and predictions, unless the app asked to skip accuracy tracking."""
    if not record.data.get("skipAccuracyTracking"):
        associations = associations_of(record, numeric, labels)
        if associations is not None:
            entry["associations"] = associations
    return entry


class Aggregator:
    """Record -> ingest entry, with the deployment's baseline bins; association ids and actuals go to the service."""

    def __init__(self, baselines: BaselineCache) -> None:
        self.baselines = baselines

    def entry(self, record: Record) -> Entry | None:
        """Return the ingest entry of one validated record (None for a ping, which only needs its ack)."""
        kind = record.data_type
        if kind == DEPLOYMENT_STATS:
            return stats_entry(record)
        if kind == DEPLOYMENT_STATS_PACKED:
            return packed_entry(record)
        if kind == PREDICTIONS_DATA:
            return self.predictions_entry(record)
        if kind == PREDICTION_STATS:
            return record_entries.stats_entry(record, _base_entry(record, "predictions"),
                                              self.baselines.get(record.deployment_id or ""))
        if kind == ACTUALS_DATA:
            return actuals_entry_from_rows(record, record.data["actualsList"])
        if kind == CUSTOM_METRIC:
            return record_entries.metric_entry(record, _base_entry(record, "customMetric"))
        if kind == EVENT:
            return record_entries.event_entry(record, _base_entry(record, "event"))
        if kind == PING_MSG:
            record_entries.log_ping(record)
            return None
        if kind == ACTUALS:
            return self.actuals_entry(record)
        raise ValueError(f"record {record.id}: unsupported dataType {kind!r}")

    def entries(self, records: Sequence[Record]) -> list[Entry]:
        """Return the entries of many records, in order (pings have none)."""
        return [e for e in (self.entry(r) for r in records) if e is not None]

    def predictions_entry(self, record: Record) -> Entry:
        """Return the entry of a PREDICTIONS_DATA record: rows, mean and bin counts against the baseline."""
        data = record.data
        numeric, labels = prediction_values(data)
        entry = _base_entry(record, "predictions")
        if data.get("skipDriftTracking"):
            # Raw samples beside client-side aggregates (which already counted these rows), or rows the app
            # excluded from drift: they add no rows, mean or bins; their association ids still travel.
            entry.update({"rows": 0, "predictionSum": 0.0})
            return _with_associations(entry, record, numeric, labels)
        entry["rows"] = validated_rows(data)
        entry["predictionSum"] = float(np.nansum(numeric)) if numeric is not None else 0.0
        baseline: Baseline | None = self.baselines.get(record.deployment_id or "")
        if baseline is not None:
            if baseline.prediction is not None:
                bins = baseline.prediction
                if bins.kind == CATEGORICAL and labels is not None:
                    entry["predictionCounts"] = bins.count_labels(labels)
                elif bins.kind != CATEGORICAL and numeric is not None:
                    entry["predictionCounts"] = bins.count_numbers(numeric)
            features = data.get("features") or {}
            counts = {name: bins.count(features[name]) for name, bins in baseline.features.items()
                      if name in features}
            if counts:
                entry["featureCounts"] = counts
        return _with_associations(entry, record, numeric, labels)

    def actuals_entry(self, record: Record) -> Entry:
        """Return the entry of an ACTUALS record (associationIds/actualValues/wasActedOn columns)."""
        data = record.data
        entry = _base_entry(record, "actuals")
        entry["actualColumns"] = actual_columns(data["associationIds"], data["actualValues"], None,
                                                data.get("wasActedOn"))
        return entry
