"""Every record type datarobot-mlops writes -> ingest entries: aggregates count exactly like the raw rows."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bosun_local.contracts import records
from bosun_local.monitoring.aggregation import Aggregator
from bosun_local.monitoring.baselines import BaselineCache
from bosun_local.monitoring.record_entries import event_status
from tests.mlops.reference import reference, spool_lines

BASELINE = {
    "features": {"x": {"type": "numeric", "edges": [-1.0, 0.0, 1.5]},
                 "color": {"type": "categorical", "categories": ["red", "green"]}},
    "prediction": {"type": "numeric", "edges": [0.0, 2.0]},
}
CLASSES = {"features": {}, "prediction": {"type": "categorical", "categories": ["no", "yes"]}}


def written(tmp_path: Path, calls) -> list[records.Record]:  # type: ignore[no-untyped-def]
    ref_mlops, _ = reference()
    m = ref_mlops.MLOps().set_deployment_id("d").set_model_id("m").set_filesystem_spooler(str(tmp_path))
    m.set_feature_types([{"name": "x", "feature_type": "numeric"}, {"name": "color", "feature_type": "category"}])
    calls(m.set_histogram_bin_count(100).init())
    m.shutdown()
    return [records.parse(line) for line in spool_lines(tmp_path)]


def test_aggregates_count_like_the_raw_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.integers(-8, 9, 400) / 4.0, "color": rng.choice(["red", "green", "blue"], 400)})
    preds = (df["x"] * 2 + 1).tolist()
    raw, agg = written(tmp_path, lambda m: (m.report_predictions_data(features_df=df.copy(), predictions=preds),
                                            m.report_aggregated_predictions_data(features_df=df.copy(),
                                                                                 predictions=preds)))
    assert (raw.data_type, agg.data_type) == ("PREDICTIONS_DATA", "PREDICTION_STATS")
    aggregator = Aggregator(BaselineCache(lambda dep: BASELINE))
    a, b = aggregator.entry(raw), aggregator.entry(agg)
    assert a is not None and b is not None
    for key in ("kind", "rows", "predictionSum", "predictionCounts", "featureCounts"):
        assert a[key] == b[key], key


def test_classifier_aggregates_count_decisions_like_labels(tmp_path: Path) -> None:
    probs = [[0.75, 0.25], [0.125, 0.875], [0.5, 0.5], [0.25, 0.75]]
    raw, agg = written(tmp_path, lambda m: (m.report_predictions_data(predictions=probs, class_names=["no", "yes"]),
                                            m.report_aggregated_predictions_data(predictions=probs,
                                                                                 class_names=["no", "yes"])))
    aggregator = Aggregator(BaselineCache(lambda dep: CLASSES))
    a, b = aggregator.entry(raw), aggregator.entry(agg)
    assert a["predictionCounts"] == b["predictionCounts"] == [2, 2, 0]
    assert a["predictionSum"] == b["predictionSum"] == 2.375 and a["rows"] == b["rows"] == 4


def test_sampled_raw_rows_of_aggregates_are_not_counted_twice(tmp_path: Path) -> None:
    df = pd.DataFrame({"x": [0.5, 1.0, 2.0, 3.0], "color": ["red"] * 4, "id": ["a", "b", "c", "d"]})
    lines = written(tmp_path, lambda m: m.report_aggregated_predictions_data(
        features_df=df, predictions=[1.0, 2.0, 3.0, 4.0], sampling_pct=100.0, association_id_column_name="id"))
    assert [r.data_type for r in lines] == ["PREDICTION_STATS", "PREDICTIONS_DATA"]
    entries = Aggregator(BaselineCache(lambda dep: BASELINE)).entries(lines)
    assert [e["rows"] for e in entries] == [4, 0] and "featureCounts" not in entries[1]


def test_metric_event_actuals_and_ping_entries(tmp_path: Path) -> None:
    _, ref_event = reference()
    lines = written(tmp_path, lambda m: (
        m.report_deployment_metric("cost", 2.5),
        m.report_model_metric("cost", 4),
        m.report_event(ref_event.Event(ref_event.EventType.DEP_SERVICE_RED, "service is red")),
        m.report_actuals([{"associationId": 7, "actualValue": "yes", "wasActedOn": False}]),
        m.send_ping_to_agent("ping")))
    assert [r.data_type for r in lines] == ["CUSTOM_METRIC", "CUSTOM_METRIC", "EVENT", "ACTUALS_DATA", "PING_MSG"]
    assert lines[-1].deployment_id is None
    deployment_metric, model_metric, event, actuals = Aggregator(BaselineCache(lambda dep: None)).entries(lines)
    assert deployment_metric["customMetric"]["modelId"] is None and model_metric["customMetric"]["modelId"] == "m"
    assert [b["value"] for b in deployment_metric["customMetric"]["buckets"]] == [2.5]
    assert deployment_metric["minute"].endswith(":00Z") and deployment_metric["kind"] == "customMetric"
    assert event["event"]["status"] == "failing" and event["event"]["message"] == "service is red"
    assert actuals["kind"] == "actuals" and actuals["actualColumns"] == {
        "associationIds": ["7"], "actualValues": ["yes"], "wasActedOn": [False]}


def test_event_statuses() -> None:
    assert [event_status(t) for t in ("model_deployments.accuracy_red", "model_deployments.data_drift_green",
                                      "model_deployments.service_health_yellow_from_green",
                                      "prediction_request.failed", "externalNaNPredictions",
                                      "model_deployments.model_replacement")] == [
        "failing", "passing", "warning", "failing", "warning", "info"]
