"""MLOps' report_* calls: validate like datarobot-mlops, build each record's data, hand it to the channel."""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from bosun_local.contracts import packed_stats, records
from bosun_local.mlops import aggregate, payloads, sampling
from bosun_local.mlops.event import Event, ExternalNaNPredictionsEvent
from bosun_local.mlops.exceptions import DRApiException, DRCommonException, DRUnsupportedType
from bosun_local.mlops.frames import (
    MLOpsInputError,
    normalize_association_ids,
    normalize_features,
    prediction_list,
)

MAX_TS_ROWS = 10000


def _check_request_stats(num_predictions: Any, execution_time_ms: Any) -> None:
    """Raise MLOpsInputError unless one request's count and duration are what report_deployment_stats takes."""
    if isinstance(num_predictions, bool) or not isinstance(num_predictions, int) or num_predictions < 0:
        raise MLOpsInputError(f"num_predictions must be an integer >= 0, got {num_predictions!r}",
                              fix="pass how many predictions the request made")
    if isinstance(execution_time_ms, bool) or not isinstance(execution_time_ms, int | float) or not (
            math.isfinite(execution_time_ms) and execution_time_ms >= 0):
        raise MLOpsInputError(f"execution_time_ms must be a float >= 0, got {execution_time_ms!r}",
                              fix="pass the request's duration in milliseconds")


def _plain_request_stats(counts: Sequence[int], times: Sequence[float]) -> bool:
    """Return True when every count is an int >= 0 and every duration a finite number >= 0 (checked per column)."""
    # A server reports every request it serves: C loops over each column instead of a call per request. A NaN or
    # an infinity makes the sum non-finite; then (or on an overflowing sum) the per-request check decides.
    return set(map(type, counts)) <= payloads.PLAIN_INT and set(map(type, times)) <= payloads.PLAIN_NUMBER and \
        min(counts, default=0) >= 0 and min(times, default=0.0) >= 0 and math.isfinite(sum(times))


class Reporting:
    """The report_* calls of MLOps; the lifecycle class supplies _emit, _ids, _ready and the settings."""

    _feature_types: list[Any] | None
    _auto_sampling_pct: float | None

    # supplied by MLOps
    def _ready(self) -> bool: raise NotImplementedError
    def _ids(self, deployment_id: str | None, model_id: str | None,
             need_model: bool = True) -> tuple[str, Any]: raise NotImplementedError
    def _emit(self, data_type: str, data: dict[str, Any], deployment_id: str | None) -> None: ...
    def _submit_many(self, data_type: str, parts: list[dict[str, Any]], deployment_id: str | None) -> None: ...
    def _submit_quoted(self, data_type: str, quoted: list[str], deployment_id: str | None) -> None: ...
    def _setting(self, name: str) -> Any: ...
    def get_association_id_column_name(self, association_id_column_name: str = "associationId") -> str:
        raise NotImplementedError

    def report_deployment_stats(self, num_predictions: int, execution_time_ms: float, user_error: bool = False,
                                system_error: bool = False, deployment_id: str | None = None,
                                model_id: str | None = None, batch_id: str | None = None) -> None:
        """Report how many predictions a request made and how long it took."""
        if not self._ready():
            return
        _check_request_stats(num_predictions, execution_time_ms)
        dep, model = self._ids(deployment_id, model_id)
        self._emit("DEPLOYMENT_STATS", payloads.deployment_stats(model, num_predictions, execution_time_ms,
                                                                 user_error, system_error, batch_id), dep)

    def report_deployment_stats_bulk(self, num_predictions: Sequence[int], execution_time_ms: Sequence[float],
                                     user_errors: Sequence[bool] | None = None,
                                     system_errors: Sequence[bool] | None = None, deployment_id: str | None = None,
                                     model_id: str | None = None, packed: bool = False) -> None:
        """Report many requests' stats at once: one DEPLOYMENT_STATS record each, as report_deployment_stats writes.

        A bosun-local extension for servers that batch their reports: one timestamp and one buffer hand-over per
        call instead of per request. packed=True writes the requests as columns in DEPLOYMENT_STATS_PACKED
        records instead (bosun_local/contracts/packed_stats.py), which only bosun-local's monitoring agent reads.
        """
        if not self._ready():
            return
        count = len(num_predictions)
        users = [False] * count if user_errors is None else list(user_errors)
        systems = [False] * count if system_errors is None else list(system_errors)
        if not (len(execution_time_ms) == len(users) == len(systems) == count):
            raise MLOpsInputError("report_deployment_stats_bulk got sequences of different lengths",
                                  fix="pass one value per request in every sequence")
        plain = _plain_request_stats(num_predictions, execution_time_ms)
        if not plain:
            for n, elapsed in zip(num_predictions, execution_time_ms, strict=True):
                _check_request_stats(n, elapsed)  # raises, naming the first bad value
        dep, model = self._ids(deployment_id, model_id)
        stamp = payloads.now_timestamp()
        if packed:
            if count:
                self._submit_many(records.DEPLOYMENT_STATS_PACKED, packed_stats.pack(
                    model, stamp, num_predictions, execution_time_ms, users, systems), dep)
            return
        quoted = payloads.deployment_stats_quoted(model, stamp, num_predictions, execution_time_ms, users, systems,
                                                  numbers_checked=plain)
        if quoted is not None:
            self._submit_quoted("DEPLOYMENT_STATS", quoted, dep)
            return
        self._submit_many("DEPLOYMENT_STATS", [
            payloads.deployment_stats(model, n, elapsed, user, system, timestamp=stamp)
            for n, elapsed, user, system in zip(num_predictions, execution_time_ms, users, systems, strict=True)
        ], dep)

    def report_predictions_data(self, features_df: Any = None, predictions: Any = None, association_ids: Any = None,
                                class_names: list[str] | None = None, deployment_id: str | None = None,
                                model_id: str | None = None, skip_drift_tracking: bool = False,
                                skip_accuracy_tracking: bool = False, batch_id: str | None = None) -> None:
        """Report the features and predictions of scored rows (NaN predictions dropped and reported as an event)."""
        if not self._ready():
            return
        dep, model = self._ids(deployment_id, model_id)
        self._predictions(dep, model, features_df, predictions, association_ids, class_names, batch_id,
                          skip_drift_tracking=skip_drift_tracking, skip_accuracy_tracking=skip_accuracy_tracking)

    def _predictions(self, dep: str, model: Any, features_df: Any, predictions: Any, association_ids: Any,
                     class_names: Any, batch_id: Any, time_series: dict[str, Any] | None = None,
                     **flags: bool) -> None:
        if features_df is None and predictions is None:
            raise MLOpsInputError("report_predictions_data got neither features_df nor predictions",
                                  fix="pass at least one")
        preds, class_names = prediction_list(predictions, class_names)
        nan_rows = payloads.nan_prediction_rows(preds, class_names) if preds is not None else []
        ids = normalize_association_ids(association_ids)
        if preds and ids:
            payloads.check_association_ids(preds, ids)
        features = normalize_features(features_df)
        if features is not None and preds and time_series is None:
            for name, values in features.items():
                if len(values) != len(preds):
                    raise MLOpsInputError(f"report_predictions_data: features_df has {len(values)} rows, predictions "
                                          f"has {len(preds)} (feature '{name}')",
                                          fix="give every argument one entry per row")
        ts = dict(time_series or {})
        if nan_rows:
            preds, ids, features, ts = _drop_rows(nan_rows, preds, ids, features, ts)
            self._event(dep, ExternalNaNPredictionsEvent(dep, model, nan_rows))
        extra: dict[str, Any] = {**ts, **flags}
        data = payloads.predictions_data(model, features, preds, ids, copy.deepcopy(class_names), batch_id, **extra)
        self._emit("PREDICTIONS_DATA", data, dep)

    def report_raw_time_series_predictions_data(
            self, features_df: Any = None, predictions: Any = None, association_ids: Any = None,
            class_names: list[str] | None = None, request_parameters: dict[str, Any] | None = None,
            forecast_distance: list[int] | None = None, row_index: list[int] | None = None,
            partition: list[datetime] | None = None, series_id: list[str] | None = None,
            deployment_id: str | None = None, model_id: str | None = None, skip_drift_tracking: bool = False,
            skip_accuracy_tracking: bool = False) -> None:
        """Report time-series predictions with their forecast distance, row index, forecast date and series."""
        if not self._ready():
            return
        dep, model = self._ids(deployment_id, model_id)
        if features_df is None and not predictions:
            raise DRCommonException("One of `features_df` or `predictions` argument is required")
        if predictions:
            if len(predictions) > MAX_TS_ROWS:
                raise DRCommonException(f"MLOps library currently supports posting only {MAX_TS_ROWS} predictions "
                                        "in a single call")
            for name, values, kind in (("forecast distance", forecast_distance, int), ("row index", row_index, int),
                                       ("partition", partition, datetime)):
                _check_column(predictions, values, name, kind)
            if series_id is not None and all(s is None for s in series_id):
                series_id = None
            if series_id is not None:
                _check_column(predictions, series_id, "series id", str)
        if features_df is not None and len(features_df) > MAX_TS_ROWS:
            raise DRCommonException(f"MLOps library currently supports posting only {MAX_TS_ROWS} feature rows in "
                                    "a single call")
        ts = {"request_params": payloads.request_parameters(request_parameters) if request_parameters else None,
              "forecast_distance": copy.deepcopy(forecast_distance), "row_index": copy.deepcopy(row_index),
              "partition": copy.deepcopy(partition), "series_id": copy.deepcopy(series_id)}
        self._predictions(dep, model, features_df, predictions, association_ids, class_names, None, ts,
                          skip_drift_tracking=skip_drift_tracking, skip_accuracy_tracking=skip_accuracy_tracking)

    def report_aggregated_predictions_data(self, features_df: Any = None, predictions: Any = None,
                                           class_names: list[str] | None = None, deployment_id: str | None = None,
                                           model_id: str | None = None, batch_id: str | None = None,
                                           sampling_pct: float = 0.0,
                                           association_id_column_name: str | None = None) -> None:
        """Report aggregates of features and predictions (PREDICTION_STATS), plus a raw sample by association id."""
        if not self._ready():
            return
        sampling.normalize_feature_names(features_df)
        dep, model = self._ids(deployment_id, model_id)
        pct = sampling.effective_pct(self._setting("MLOPS_STATS_AGGREGATION_AUTO_SAMPLING_PERCENTAGE"),
                                     self._auto_sampling_pct, sampling_pct)
        id_column = self.get_association_id_column_name(association_id_column_name)  # type: ignore[arg-type]
        raw = sampling.sample_frame(features_df, id_column, pct)
        preds, class_names = prediction_list(predictions, class_names)
        raw_preds = None
        if preds and raw is not None:
            raw_preds = [preds[i] for i in features_df.index.get_indexer(raw.index)]
        self._aggregated(dep, model, features_df, preds, class_names, batch_id)
        if raw is not None and not raw.empty:
            raw = raw.reset_index(drop=True)
            ids = raw[id_column].astype(str).tolist() if raw_preds is not None else None
            self._predictions(dep, model, raw.drop(columns=id_column), raw_preds, ids, class_names, batch_id,
                              skip_drift_tracking=True, skip_accuracy_tracking=raw_preds is None)

    def _aggregated(self, dep: str, model: Any, features_df: Any, preds: list[Any] | None, class_names: Any,
                    batch_id: Any) -> None:
        types = self._descriptors()
        if features_df is not None and types is None:
            raise DRCommonException("Features type should be provided during MLOPS initialization",
                                    fix="call set_feature_types() (or set MLOPS_FEATURE_TYPES_JSON) before init()")
        nan_rows = payloads.nan_prediction_rows(preds, class_names) if preds is not None else []
        frame = features_df.copy(deep=True).reset_index(drop=True) if features_df is not None else None
        if nan_rows:
            preds = [p for i, p in enumerate(preds or []) if i not in set(nan_rows)]
            if frame is not None:
                frame = frame.drop(nan_rows, axis=0)
            self._event(dep, ExternalNaNPredictionsEvent(dep, model, nan_rows))
        pred_frame = None
        if preds is not None:
            pred_frame = pd.DataFrame(preds, columns=class_names) if class_names else pd.DataFrame(preds)
        limits = aggregate.Limits(self._setting("MLOPS_STATS_AGGREGATION_HISTOGRAM_BIN_COUNT"),
                                  self._setting("MLOPS_STATS_AGGREGATION_DISTINCT_CATEGORY_COUNT"),
                                  self._setting("MLOPS_STATS_AGGREGATION_SEGMENT_VALUE_COUNT"))
        segments_text = self._setting("MLOPS_STATS_AGGREGATION_SEGMENT_ATTRIBUTES")
        segments = [s.strip() for s in segments_text.split(",")] if segments_text else None
        ts_column = self._setting("MLOPS_STATS_AGGREGATION_PREDICTION_TS_COLUMN_NAME")
        ts_format = self._setting("MLOPS_STATS_AGGREGATION_PREDICTION_TS_COLUMN_FORMAT")
        slices: list[tuple[Any, Any, str | None]] = [(frame, pred_frame, None)]
        if ts_column and ts_format and frame is not None and ts_column in frame.columns:
            hours = sampling.hour_of(frame[ts_column], ts_format)
            slices = [(frame[hours == h], pred_frame[hours == h] if pred_frame is not None else None,
                       payloads.dr_timestamp(datetime.fromtimestamp(h))) for h in sorted(set(hours))]
        for part, part_preds, stamp in slices:
            maps = aggregate.aggregate(part, types, part_preds, class_names, segments, limits)
            self._emit("PREDICTION_STATS", payloads.prediction_stats(model, maps, class_names, batch_id, stamp), dep)

    def _descriptors(self) -> list[aggregate.FeatureDescriptor] | None:
        text = self._setting("MLOPS_FEATURE_TYPES_JSON")
        path = self._setting("MLOPS_FEATURE_TYPES_FILENAME")
        if text and path:
            raise DRApiException("Feature types are provided using file and json, only one is supported")
        types = self._feature_types
        if path:
            with open(path, "rb") as f:
                types = aggregate.load_feature_types(f.read().decode(), path)
        elif text:
            types = aggregate.load_feature_types(text, "MLOPS_FEATURE_TYPES_JSON")
        return aggregate.to_descriptors(types, sampling.sanitized_names) if types is not None else None

    def report_actuals(self, actuals: Any = None, deployment_id: str | None = None, model_id: str | None = None, *,
                       association_ids: Any = None, actual_values: Any = None, was_acted_on: Any = None) -> None:
        """Report true outcomes ({associationId, actualValue, timestamp?, wasActedOn?}), joined to predictions.

        Besides datarobot-mlops' list of dicts, a DataFrame (or dict of columns) and the association_ids=/
        actual_values= columns are accepted; snake_case keys (association_id, actual_value) too.
        """
        if not self._ready():
            return
        dep, model = self._ids(deployment_id, model_id)
        actuals = _actual_dicts(actuals, association_ids, actual_values, was_acted_on)
        if not isinstance(actuals, list) or not all(isinstance(a, dict) for a in actuals):
            raise DRApiException("'actuals' should be a list of dictionaries",
                                 fix="pass [{'associationId': ..., 'actualValue': ...}, ...]")
        pct = sampling.effective_pct(self._setting("MLOPS_STATS_AGGREGATION_AUTO_SAMPLING_PERCENTAGE"),
                                     self._auto_sampling_pct, 0.0)
        column = self.get_association_id_column_name("associationId")
        rows = []
        for actual in actuals:
            row = copy.deepcopy(actual)
            key = row["associationId"] if "associationId" in row else (
                row.get(column) if column != "associationId" else None)
            if key is not None:
                row["associationId"] = key
            if column != "associationId" and column in row:
                row.pop(column)
            rows.append(payloads.actual_row(row))
        if 0.0 < pct <= 100.0 and rows:
            rows = [r for r in rows if sampling.sampled(r["associationId"], pct)]
            if not rows:
                return
        if not rows:
            raise DRApiException("Empty actuals list to post")
        self._emit("ACTUALS_DATA", payloads.actuals_data(rows, model), dep)

    def report_event(self, event: Event, deployment_id: str | None = None) -> None:
        """Report an external event (its deployment is filled in)."""
        if not self._ready():
            return
        dep, _ = self._ids(deployment_id, None, need_model=False)
        self._event(dep, event)

    def _event(self, dep: str, event: Event) -> None:
        if not isinstance(event, Event):
            raise DRUnsupportedType(f"Wrong value type for event. Expected: {Event}, provided: {type(event)}")
        if event.is_entity_a_deployment():
            event.set_entity_id(dep)
        self._emit("EVENT", payloads.event_data(event), dep)

    def send_ping_to_agent(self, message: str) -> None:
        """Put a PING_MSG record in the spool: the agent acknowledges and logs it, nothing else."""
        if not self._ready():
            return
        if not isinstance(message, str):
            raise DRUnsupportedType(f"Wrong value type for ping msg. Expected: {str}, provided: {type(message)}")
        # Milliseconds with the local zone offset added back, as the reference library stamps pings.
        created = math.floor((time.time() + time.timezone) * 1000)
        self._emit("PING_MSG", payloads.ping_data(message, created), None)

    def report_deployment_metric(self, metric_id: str, value: Any, timestamp: Any = None,
                                 deployment_id: str | None = None, model_id: str | None = None,
                                 geospatial_coordinate: Any = None) -> None:
        """Report a custom metric of the deployment (one value, or a list with a list of timestamps)."""
        if not self._ready():
            return
        dep, _ = self._ids(deployment_id, None, need_model=False)
        self._metric(dep, model_id, metric_id, value, timestamp, geospatial_coordinate)

    def report_model_metric(self, metric_id: str, value: Any, timestamp: Any = None, deployment_id: str | None = None,
                            model_id: str | None = None, geospatial_coordinate: Any = None) -> None:
        """Report a custom metric of a model of the deployment."""
        if not self._ready():
            return
        dep, model = self._ids(deployment_id, model_id)
        self._metric(dep, model, metric_id, value, timestamp, geospatial_coordinate)

    def _metric(self, dep: str, model: Any, metric_id: Any, value: Any, timestamp: Any, coordinate: Any) -> None:
        if not isinstance(metric_id, str):
            raise DRUnsupportedType(f"Metric id must be of type str - got type ({type(metric_id)})")
        if isinstance(value, bool) or not isinstance(value, list | int | float):
            raise DRUnsupportedType("Value for custom metric must be either int or float (or list of int or float)")
        if isinstance(value, list):
            if not all(isinstance(v, int | float) for v in value):
                raise DRUnsupportedType("Values for custom metrics should be all numeric")
            if not isinstance(timestamp, list):
                raise DRUnsupportedType("When providing a list of values for custom metrics, timestamp must also be "
                                        "a list")
            if len(timestamp) != len(value):
                raise DRCommonException(f"Length of timestamp list ({len(timestamp)}) != Length of value list "
                                        f"({len(value)})")
            values, stamps = value[:], [payloads.metric_timestamp(t) for t in timestamp]
            coords = None if coordinate is None else _coordinates(coordinate, len(value))
        else:
            if isinstance(timestamp, list | dict):
                raise DRCommonException("Value is a scalar while timestamp is not")
            values = [value]
            stamps = [payloads.now_timestamp() if timestamp is None else payloads.metric_timestamp(timestamp)]
            if isinstance(coordinate, list | dict):
                raise DRCommonException("Value is a scalar while geospatial_coordinate is not")
            if coordinate is not None and not isinstance(coordinate, str):
                raise DRUnsupportedType("Geospatial coordinate for custom metrics should be a string (WKB or WKT)")
            coords = None if coordinate is None else [coordinate]
        self._emit("CUSTOM_METRIC", payloads.custom_metric(model, metric_id, values, stamps, coords), dep)


_SNAKE = {"association_id": "associationId", "actual_value": "actualValue", "was_acted_on": "wasActedOn"}


def _actual_dicts(actuals: Any, ids: Any, values: Any, acted: Any) -> Any:
    """Return actuals as a list of dicts from any accepted form; leave a malformed argument for the caller to refuse."""
    if actuals is None and ids is not None:
        actuals = {"associationId": ids, "actualValue": values}
        if acted is not None:
            actuals["wasActedOn"] = acted
    if actuals is None:
        raise MLOpsInputError("report_actuals needs association ids and actual values",
                              fix="pass actuals=[{'associationId': ..., 'actualValue': ...}] or "
                                  "association_ids=, actual_values=")
    if not isinstance(actuals, list):
        columns = normalize_features(actuals)
        if not columns:
            return actuals
        names = list(columns)
        n = len(columns[names[0]])
        actuals = [{name: columns[name][i] for name in names} for i in range(n)]
    return [{_SNAKE.get(k, k): v for k, v in a.items()} if isinstance(a, dict) else a for a in actuals]


def _coordinates(coordinate: Any, n: int) -> list[str | None]:
    if not isinstance(coordinate, list):
        raise DRUnsupportedType("When providing a list of values for custom metrics, geospatial_coordinate must "
                                "also be a list")
    if len(coordinate) != n:
        raise DRCommonException(f"Length of geospatial_coordinate list ({len(coordinate)}) != Length of value "
                                f"list ({n})")
    if not all(c is None or isinstance(c, str) for c in coordinate):
        raise DRUnsupportedType("Geospatial coordinates for custom metrics should be strings (WKB or WKT) or None")
    return coordinate[:]


def _check_column(predictions: list[Any], values: Any, name: str, kind: type) -> None:
    if not values:
        raise DRCommonException(f"'{values}' values are required to report time series predictions")
    if not isinstance(values, list):
        raise DRUnsupportedType(f"{name} argument has to be of type '{list}'")
    if len(values) != len(predictions):
        raise DRCommonException(f"Number of predictions and {name} values should be the same")
    for value in values:
        if not isinstance(value, kind):
            raise DRCommonException(f"Value {value} is of type {type(value)}, expected of type {kind}")


def _drop_rows(rows: list[int], preds: Any, ids: Any, features: Any, ts: dict[str, Any]) -> tuple[Any, ...]:
    """Return predictions, ids, features and time-series columns without the given rows."""
    gone = set(rows)
    keep = lambda values: [v for i, v in enumerate(values) if i not in gone] if values else values  # noqa: E731
    if features is not None and preds is not None and all(len(v) == len(preds) for v in features.values()):
        features = {k: keep(v) for k, v in features.items()}
    for name in ("forecast_distance", "row_index", "partition", "series_id"):
        if ts.get(name):
            ts[name] = keep(ts[name])
    return keep(preds), keep(ids), features, ts

