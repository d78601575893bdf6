"""Records -> ingest entries: latency sketches, baseline bins, predictions of each kind, ids and actuals forwarded."""
from __future__ import annotations

import numpy as np
import pytest

from bosun_local.contracts import records
from bosun_local.contracts.latency import LatencySketch
from bosun_local.monitoring.aggregation import Aggregator, RequestsFolder, actuals_entry_from_rows, minute_of
from bosun_local.monitoring.baselines import BaselineCache, Bins
from tests.support.monitoring import FIXTURE_SPOOL

FIXTURE = FIXTURE_SPOOL / "fs_spool.1"
BASELINE = {
    "features": {"age": {"type": "numeric", "edges": [40.0, 50.0]},
                 "color": {"type": "categorical", "categories": ["red", "green"]},
                 "sex": {"type": "categorical", "categories": ["1", "2"]}},
    "prediction": {"type": "numeric", "edges": [160.0, 200.0]},
}


def fixture_records() -> list[records.Record]:
    lines = FIXTURE.read_bytes().splitlines()
    return [records.parse(line) for line in lines]


def aggregator(baselines: dict[str, dict] | None = None) -> Aggregator:
    known = baselines or {}
    return Aggregator(BaselineCache(lambda dep: known.get(dep)))


def prediction_record(dep: str, features: dict, predictions: list, **extra: object) -> records.Record:
    data = {"timestamp": "2026-11-21 19:43:07.884+0000", "modelId": "m", "features": features,
            "predictions": predictions, **extra}
    return records.parse(records.encode(records.new_record_id(), dep, records.PREDICTIONS_DATA, data))


def test_fixture_records_become_one_entry_each_with_exact_figures() -> None:
    entries = aggregator({"dep-regression-1": BASELINE}).entries(fixture_records())
    assert [e["kind"] for e in entries] == ["stats", "predictions", "stats", "stats", "predictions"]
    assert all(e["minute"] == "2026-11-21T19:43:00Z" for e in entries)
    first, preds, errored = entries[0], entries[1], entries[2]
    assert (first["predictions"], first["userErrors"], first["executionTimeMs"]) == (3, 0, 12.5)
    latency = LatencySketch.from_wire(first["latencySketch"])
    assert (latency.count, latency.min, latency.max, latency.quantile(0.5)) == (1, 12.5, 12.5, 12.5)
    assert (errored["predictions"], errored["userErrors"], errored["systemErrors"]) == (1, 1, 0)
    assert LatencySketch.from_wire(errored["latencySketch"]).count == 1
    assert preds["rows"] == 3 and preds["predictionSum"] == pytest.approx(151.2 + 180.3 + 210.9)
    # ages 30, 45, 60 against edges 40, 50; predictions 151.2, 180.3, 210.9 against 160, 200
    assert preds["featureCounts"]["age"] == [1, 1, 1]
    assert preds["featureCounts"]["sex"] == [2, 1, 0]  # 1.0 in a record matches category "1"
    assert preds["predictionCounts"] == [1, 1, 1]
    assert entries[4]["deploymentId"] == "dep-binary-1" and "featureCounts" not in entries[4]
    assert entries[4]["predictionSum"] == pytest.approx(0.8 + 0.1)  # last class column
    assert {e["recordId"] for e in entries} == {r.id for r in fixture_records()}


def test_numeric_bins_follow_the_contract_edges() -> None:
    bins = Bins.from_wire({"type": "numeric", "edges": [1.0, 2.0]})
    # bin i holds edges[i-1] <= v < edges[i]; NaN and None are not counted
    assert bins.count([0.5, 1.0, 1.5, 2.0, 7, None, float("nan")]) == [1, 2, 2]
    assert bins.count(["1.5", "x", 3]) == [0, 1, 1]


def test_categorical_bins_put_unknown_values_in_other() -> None:
    bins = Bins.from_wire({"type": "categorical", "categories": ["red", "blue"]})
    assert bins.count(["red", "blue", "red", "pink", None]) == [2, 1, 1]
    assert bins.count([]) == [0, 0, 0]


def test_classifier_predictions_count_predicted_labels() -> None:
    agg = aggregator({"d": {"features": {}, "prediction": {"type": "categorical", "categories": ["no", "yes"]}}})
    record = prediction_record("d", {"x": [1, 2, 3]}, [[0.9, 0.1], [0.3, 0.7], [0.2, 0.8]], classNames=["no", "yes"])
    entry = agg.entry(record)
    assert entry["predictionCounts"] == [1, 2, 0]
    assert entry["rows"] == 3


def test_large_record_is_binned_like_a_plain_loop() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(size=20_000).round(3).tolist()
    edges = [-1.0, 0.0, 1.0]
    agg = aggregator({"d": {"features": {"f": {"type": "numeric", "edges": edges}}, "prediction": None}})
    entry = agg.entry(prediction_record("d", {"f": values}, values))
    expected = [0, 0, 0, 0]
    for v in values:
        expected[sum(1 for e in edges if v >= e)] += 1
    assert entry["featureCounts"]["f"] == expected
    assert "predictionCounts" not in entry


def test_association_ids_travel_with_what_was_predicted_for_each_row() -> None:
    agg = aggregator()
    entry = agg.entry(prediction_record("d", {"x": [1, 2, 3]}, [10.0, None, 30.0],
                                        associationIds=["a", "b", 7]))
    assoc = entry["associations"]
    assert assoc["ids"] == ["a", "b", "7"] and assoc["predictions"] == [10.0, None, 30.0]
    assert assoc["timestamp"].startswith("2026-11-21T19:43:07.884")
    classified = agg.entry(prediction_record("d", {"x": [1, 2]}, [[0.9, 0.1], [0.2, 0.8]], classNames=["no", "yes"],
                                             associationIds=["p", "q"]))["associations"]
    assert classified["classNames"] == ["no", "yes"] and classified["probabilities"] == [[0.9, 0.1], [0.2, 0.8]]
    assert "associations" not in agg.entry(prediction_record("d", {"x": [1]}, [1.0]))


def test_actuals_are_forwarded_not_joined_in_the_agent() -> None:
    actuals = records.parse(records.encode("act-1", "d", records.ACTUALS, {
        "timestamp": "2026-11-21T19:44:01Z", "associationIds": ["a", "c"], "actualValues": [12.0, "yes"],
        "wasActedOn": [True, None]}))
    entry = aggregator().entry(actuals)
    assert entry["kind"] == "actuals" and entry["minute"] == "2026-11-21T19:44:00Z"
    assert entry["actualColumns"] == {"associationIds": ["a", "c"], "actualValues": [12.0, "yes"],
                                      "wasActedOn": [True, None]}
    rows = [{"associationId": 5, "actualValue": 1, "timestamp": "2026-11-20T00:00:00Z"}]
    assert actuals_entry_from_rows(actuals, rows)["actualColumns"] == {
        "associationIds": ["5"], "actualValues": [1], "timestamps": ["2026-11-20T00:00:00Z"]}


def test_baseline_cache_refetches_after_ttl_and_caches_absence() -> None:
    calls: list[str] = []
    now = [0.0]

    def fetch(dep: str) -> dict | None:
        calls.append(dep)
        return BASELINE if dep == "with" else None

    cache = BaselineCache(fetch, ttl_sec=60, clock=lambda: now[0])
    assert cache.get("with") is not None and cache.get("with") is not None
    assert cache.get("without") is None and cache.get("without") is None
    assert calls == ["with", "without"]
    now[0] = 61.0
    cache.get("with")
    assert calls == ["with", "without", "with"]


def test_minute_is_utc_floor() -> None:
    assert minute_of(records.parse_timestamp("2026-11-21 19:43:59.999+0200")) == "2026-11-21T17:43:00Z"


def test_deployment_stats_fold_into_one_requests_entry_per_deployment_model_and_minute() -> None:
    folder = RequestsFolder()
    times = ["2026-11-21 19:43:07.883+0000", "2026-11-21T19:43:59Z", "2026-11-21 19:44:00.000+0000",
             "2026-11-21T20:43:30+01:00"]  # the last is 19:43 UTC, reached by parsing
    for i, stamp in enumerate(times):
        folder.add(records.parse(records.encode(f"s{i}", "d", records.DEPLOYMENT_STATS, records.deployment_stats_data(
            "m", i + 1, float(i), user_error=i == 1, timestamp=stamp))))
    (first, held), (second, _) = folder.entries()
    assert first["kind"] == "requests" and first["minute"] == "2026-11-21T19:43:00Z"
    assert first["requests"] == {"recordIds": ["s0", "s1", "s3"], "predictions": [1, 2, 4],
                                 "executionTimeMs": [0.0, 1.0, 3.0], "userErrors": [False, True, False],
                                 "systemErrors": [False, False, False]}
    assert [r.id for r in held] == ["s0", "s1", "s3"]
    assert second["minute"] == "2026-11-21T19:44:00Z" and second["requests"]["recordIds"] == ["s2"]
