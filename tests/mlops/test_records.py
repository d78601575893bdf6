"""The wire format: datarobot-mlops records parse exactly; ours encode to the same shape; bad ones are refused."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bosun_local.contracts import records
from tests.mlops.conftest import FIXTURE_SPOOL


def fixture_lines() -> list[str]:
    return (FIXTURE_SPOOL / "fs_spool.1").read_text().splitlines()


def test_fixture_records_parse_exactly() -> None:
    parsed = [records.parse(line) for line in fixture_lines()]
    assert [(r.deployment_id, r.model_id, r.data_type, r.rows) for r in parsed] == [
        ("dep-regression-1", "model-A", "DEPLOYMENT_STATS", 3),
        ("dep-regression-1", "model-A", "PREDICTIONS_DATA", 3),
        ("dep-regression-1", "model-A", "DEPLOYMENT_STATS", 1),
        ("dep-binary-1", "model-B", "DEPLOYMENT_STATS", 2),
        ("dep-binary-1", "model-B", "PREDICTIONS_DATA", 2),
    ]
    stats, preds, err_stats, _, binary = parsed
    assert stats.id == "12a3e74c-00bd-4134-bf34-ee806bfb0499"
    assert stats.data["executionTime"] == 12.5 and stats.data["userError"] is False
    assert err_stats.data["userError"] is True and err_stats.data["executionTime"] == 3.0
    assert stats.timestamp == datetime(2026, 11, 21, 19, 43, 7, 883000, tzinfo=UTC)
    assert list(preds.data["features"]) == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    assert preds.data["features"]["bmi"] == [23.0, 31.5, 27.2]
    assert preds.data["predictions"] == [151.2, 180.3, 210.9]
    assert preds.data["associationIds"] == ["a1", "a2", "a3"]
    assert binary.data["classNames"] == ["yes", "no"]
    assert binary.data["predictions"] == [[0.2, 0.8], [0.9, 0.1]]
    assert binary.data["features"]["color"] == ["red", "blue"]
    assert stats.header["libVersion"] == "11.2.62" and stats.header["version"] == 2


def test_our_encoding_has_the_fixture_shape() -> None:
    theirs = json.loads(fixture_lines()[0])
    data = records.deployment_stats_data("model-A", 3, 12.5)
    ours = json.loads(records.encode(records.new_record_id(), "dep-regression-1", records.DEPLOYMENT_STATS, data))
    assert list(ours) == list(theirs) == ["header", "data"]
    assert list(ours["header"]) == list(theirs["header"])
    assert {k: ours["header"][k] for k in ("dataFormat", "dataLen", "version", "language", "reserved")} == {
        k: theirs["header"][k] for k in ("dataFormat", "dataLen", "version", "language", "reserved")
    }
    assert isinstance(ours["data"], str)
    assert sorted(json.loads(ours["data"])) == sorted(json.loads(theirs["data"]))
    # Re-encoding a parsed fixture record keeps its id, deployment and data.
    again = records.parse(records.parse(fixture_lines()[1]).to_json())
    assert again.id == "66f1cc4e-3f40-447f-9abc-6dc8fe78d807" and again.rows == 3


def test_timestamp_format_matches_the_library() -> None:
    moment = datetime(2026, 11, 21, 19, 43, 7, 883456, tzinfo=UTC)
    assert records.format_timestamp(moment) == "2026-11-21 19:43:07.883+0000"
    for text in ("2026-11-21 19:43:07.883+0000", "2026-11-21T19:43:07.883Z", "2026-11-21T20:43:07.883+01:00"):
        assert records.parse_timestamp(text) == datetime(2026, 11, 21, 19, 43, 7, 883000, tzinfo=UTC)


def _record(data_type: str = "DEPLOYMENT_STATS", **data: object) -> str:
    body = {"timestamp": "2026-11-21 19:43:07.883+0000", "modelId": "m", **data}
    return json.dumps({"header": {"id": "r1", "deploymentId": "d1", "dataType": data_type, "dataFormat": "json"},
                       "data": json.dumps(body)})


STATS = {"numPredictions": 1, "executionTime": 2.0, "userError": False, "systemError": False}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"data": "{}"}', "no 'header'"),
        (json.dumps({"header": {"deploymentId": "d", "dataType": "DEPLOYMENT_STATS"}, "data": "{}"}), "header.id"),
        (_record("CUSTOM_EVENT", **STATS), "dataType 'CUSTOM_EVENT' is not supported"),
        (_record("CUSTOM_METRIC", **STATS), "data.customMetricId"),
        (_record("FEATURE_DATA", **STATS), "legacy type"),
        (_record("ACTUALS_DATA", actualsList=[{"associationId": "a"}]), "actualsList[0].actualValue"),
        (_record("EVENT", eventType="x"), "data.message"),
        (_record("PREDICTION_STATS", numericAggregateMap={}, categoricalAggregateMap={},
                 predictionAggregateMap={"0": {"count": -1}}), "count must be an integer"),
        (_record(**{**STATS, "numPredictions": -1}), "numPredictions"),
        (_record(**{**STATS, "executionTime": "fast"}), "executionTime"),
        (_record(**{**STATS, "userError": "no"}), "userError"),
        (_record(**{**STATS}).replace("2026-11-21 19:43:07.883+0000", "yesterday"), "timestamp"),
        (_record("PREDICTIONS_DATA"), "neither data.features nor data.predictions"),
        (_record("PREDICTIONS_DATA", features={"a": [1, 2]}, predictions=[1.0]), "differ in length"),
        (_record("PREDICTIONS_DATA", predictions=[[0.1, 0.9]], classNames=["a", "b", "c"]), "3 probabilities"),
        (_record("PREDICTIONS_DATA", predictions=[{"x": 1}]), "data.predictions[0]"),
        (_record("ACTUALS", associationIds=["a"], actualValues=[1, 2]), "2 values for 1"),
    ],
)
def test_bad_records_are_refused_with_the_field_named(line: str, reason: str) -> None:
    with pytest.raises(records.RecordError) as info:
        records.parse(line)
    assert reason in info.value.reason


def test_protobuf_format_records_are_refused_with_a_fix() -> None:
    line = json.dumps({"header": {"id": "r", "deploymentId": "d", "dataType": "DEPLOYMENT_STATS",
                                  "dataFormat": "byte_array"}, "data": "AAEC"})
    with pytest.raises(records.RecordError, match="MLOPS_SPOOLER_DATA_FORMAT=JSON"):
        records.parse(line)
