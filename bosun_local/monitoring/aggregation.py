"""Turn parsed spool records into the service's ingest entries (one per record), vectorised per column."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from bosun_local.contracts.latency import LATENCY_BUCKETS_MS, latency_bucket
from bosun_local.contracts.records import ACTUALS, DEPLOYMENT_STATS, PREDICTIONS_DATA, Record
from bosun_local.monitoring.baselines import CATEGORICAL, Baseline, BaselineCache, to_floats

Entry = dict[str, Any]
# Records of apps that never set a model id still need one on the wire.
UNKNOWN_MODEL = "unknown"
# Enough association ids to join a few minutes of heavy traffic; the oldest are forgotten first.
ASSOCIATION_CAPACITY = 1_000_000


def minute_of(moment: datetime) -> str:
    """Return the UTC minute a moment falls in, as the contract's `2026-11-21T19:43:00Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:00Z")


class AssociationStore:
    """Recent predictions by (deployment, association id), so actuals can be joined to them."""

    def __init__(self, capacity: int = ASSOCIATION_CAPACITY) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, str], float | str] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, deployment_id: str, ids: Sequence[Any], values: Sequence[float | str]) -> None:
        """Store each row's prediction under its association id."""
        with self._lock:
            items = self._items
            for key, value in zip(ids, values, strict=False):
                if key is not None:
                    items[(deployment_id, str(key))] = value
            while len(items) > self.capacity:
                items.popitem(last=False)

    def lookup(self, deployment_id: str, key: str) -> float | str | None:
        """Return the prediction made for an association id, None when unknown."""
        with self._lock:
            return self._items.get((deployment_id, key))


def _base_entry(record: Record, kind: str) -> Entry:
    return {"recordId": record.id, "deploymentId": record.deployment_id, "modelId": record.model_id or UNKNOWN_MODEL,
            "minute": minute_of(record.timestamp), "kind": kind}


def stats_entry(record: Record) -> Entry:
    """Return the entry of a DEPLOYMENT_STATS record: one request of numPredictions rows."""
    data = record.data
    elapsed = float(data["executionTime"])
    latency = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    latency[latency_bucket(elapsed)] = 1
    entry = _base_entry(record, "stats")
    # Errors count requests (a record is one reported request), like the latency histogram.
    entry.update({"predictions": int(data["numPredictions"]), "userErrors": int(bool(data.get("userError"))),
                  "systemErrors": int(bool(data.get("systemError"))), "executionTimeMs": elapsed,
                  "latencyCounts": latency})
    return entry


def positive_column(class_names: Sequence[str]) -> int:
    """Return the probability column drift and means use for a classifier: the last class (sklearn's positive)."""
    return len(class_names) - 1


def prediction_values(data: dict[str, Any]) -> tuple[np.ndarray | None, list[str] | None]:
    """Return (numeric values, predicted labels) of a PREDICTIONS_DATA record's predictions."""
    predictions = data.get("predictions")
    if not predictions:
        return None, None
    class_names = data.get("classNames")
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


class Aggregator:
    """Record -> ingest entry, with the deployment's baseline bins and the association join for actuals."""

    def __init__(self, baselines: BaselineCache, associations: AssociationStore | None = None) -> None:
        self.baselines = baselines
        self.associations = associations or AssociationStore()

    def entry(self, record: Record) -> Entry:
        """Return the ingest entry of one validated record."""
        if record.data_type == DEPLOYMENT_STATS:
            return stats_entry(record)
        if record.data_type == PREDICTIONS_DATA:
            return self.predictions_entry(record)
        if record.data_type == ACTUALS:
            return self.actuals_entry(record)
        raise ValueError(f"record {record.id}: unsupported dataType {record.data_type!r}")

    def entries(self, records: Sequence[Record]) -> list[Entry]:
        """Return the entries of many records, in order."""
        return [self.entry(r) for r in records]

    def predictions_entry(self, record: Record) -> Entry:
        """Return the entry of a PREDICTIONS_DATA record: rows, mean and bin counts against the baseline."""
        data = record.data
        numeric, labels = prediction_values(data)
        entry = _base_entry(record, "predictions")
        entry["rows"] = validated_rows(data)
        entry["predictionSum"] = float(np.nansum(numeric)) if numeric is not None else 0.0
        baseline: Baseline | None = self.baselines.get(record.deployment_id)
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
        ids = data.get("associationIds")
        if ids:
            joined: Sequence[float | str] | None = labels if labels is not None else (
                numeric.tolist() if numeric is not None else None)
            if joined is not None:
                self.associations.remember(record.deployment_id, ids, joined)
        return entry

    def actuals_entry(self, record: Record) -> Entry:
        """Return the entry of an ACTUALS record: how many joined a prediction, abs error and correct labels."""
        data = record.data
        matched, abs_error, correct = 0, 0.0, 0
        for key, actual in zip(data["associationIds"], data["actualValues"], strict=False):
            predicted = self.associations.lookup(record.deployment_id, str(key))
            if predicted is None:
                continue
            matched += 1
            if isinstance(predicted, str):
                correct += int(predicted == str(actual))
            else:
                try:
                    abs_error += abs(float(actual) - predicted)
                except (TypeError, ValueError):
                    matched -= 1
        entry = _base_entry(record, "actuals")
        entry.update({"actualsMatched": matched, "absErrorSum": abs_error, "correct": correct})
        return entry
