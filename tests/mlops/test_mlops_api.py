"""The datarobot-mlops surface: inputs apps pass, chunking, errors, counters, the memory and stdout spoolers."""
from __future__ import annotations

import io
import json
import logging
import re
import time
import uuid

import numpy as np
import pandas as pd
import pytest

from bosun_local.contracts import records
from bosun_local.mlops import DRCommonException, MLOps, MLOpsNotInitializedError
from bosun_local.spool.buffer import RecordBuffer
from bosun_local.spool.simple import MemoryChannel, StdoutChannel


@pytest.fixture
def mlops() -> MLOps:
    client = MLOps().set_deployment_id("dep").set_model_id("mod").set_memory_spooler().init()
    yield client
    client.shutdown()



def flush(client: MLOps) -> list[records.Record]:
    channel = client.channel
    assert isinstance(channel, MemoryChannel) and client._buffer is not None
    assert client._buffer.wait_empty(10)
    return channel.records()


@pytest.mark.parametrize(
    "features",
    [
        pd.DataFrame({"x": [1.0, 2.0], "color": ["red", "blue"]}),
        {"x": [1.0, 2.0], "color": ["red", "blue"]},
        {"x": np.array([1.0, 2.0]), "color": ("red", "blue")},
        [{"x": 1.0, "color": "red"}, {"x": 2.0, "color": "blue"}],
    ],
    ids=["dataframe", "dict-of-lists", "dict-of-arrays", "row-dicts"],
)
def test_feature_shapes_give_the_same_record(mlops: MLOps, features: object) -> None:
    mlops.report_predictions_data(features, np.array([0.5, 0.7]), association_ids=[1, 2])
    (record,) = flush(mlops)
    assert record.data["features"] == {"x": [1.0, 2.0], "color": ["red", "blue"]}
    assert record.data["predictions"] == [0.5, 0.7] and record.data["associationIds"] == ["1", "2"]
    assert record.deployment_id == "dep" and record.model_id == "mod"


def test_row_dicts_with_missing_keys_and_special_values(mlops: MLOps) -> None:
    rows = [{"a": 1}, {"b": float("nan"), "a": 2}, {"t": pd.Timestamp("2026-11-21 10:00")}]
    mlops.report_predictions_data(rows)
    (record,) = flush(mlops)
    assert record.data["features"] == {"a": [1, 2, None], "b": [None, None, None],
                                       "t": [None, None, "2026-11-21 10:00:00"]}


def test_classification_probabilities(mlops: MLOps) -> None:
    mlops.report_predictions_data(predictions=np.array([[0.2, 0.8], [0.9, 0.1]]), class_names=["yes", "no"])
    proba = pd.DataFrame({"yes": [0.3], "no": [0.7]})
    mlops.report_predictions_data(predictions=proba)
    first, second = flush(mlops)
    assert first.data["predictions"] == [[0.2, 0.8], [0.9, 0.1]] and first.data["classNames"] == ["yes", "no"]
    assert second.data["predictions"] == [[0.3, 0.7]] and second.data["classNames"] == ["yes", "no"]


def test_large_frames_are_split_into_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_FEATURE_DATA_ROWS_IN_ONE_MESSAGE", "40")
    client = MLOps().set_deployment_id("d").set_model_id("m").set_memory_spooler().init()
    client.report_predictions_data({"x": list(range(100))}, list(range(100)), [f"a{i}" for i in range(100)])
    chunks = flush(client)
    client.shutdown()
    assert [c.rows for c in chunks] == [40, 40, 20]
    assert [v for c in chunks for v in c.data["features"]["x"]] == list(range(100))
    assert [v for c in chunks for v in c.data["associationIds"]] == [f"a{i}" for i in range(100)]
    assert len({c.id for c in chunks}) == 3


def test_actuals_forms(mlops: MLOps) -> None:
    mlops.report_actuals(pd.DataFrame({"associationId": ["a1", "a2"], "actualValue": [3.5, 4.0],
                                       "wasActedOn": [True, False]}))
    mlops.report_actuals(association_ids=["a3"], actual_values=["yes"])
    first, second = flush(mlops)
    assert first.data["actualsList"] == [{"associationId": "a1", "actualValue": 3.5, "wasActedOn": True},
                                         {"associationId": "a2", "actualValue": 4.0, "wasActedOn": False}]
    assert first.rows == 2 and first.data["modelId"] == "mod"
    assert second.data_type == "ACTUALS_DATA" and second.data["actualsList"] == [
        {"associationId": "a3", "actualValue": "yes"}]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.report_deployment_stats(-1, 1.0), "num_predictions"),
        (lambda m: m.report_deployment_stats(1.5, 1.0), "num_predictions"),
        (lambda m: m.report_deployment_stats(1, float("nan")), "execution_time_ms"),
        (lambda m: m.report_predictions_data(), "neither features_df nor predictions"),
        (lambda m: m.report_predictions_data({"a": [1, 2]}, [1.0]), "features_df has 2 rows, predictions has 1"),
        (lambda m: m.report_predictions_data({"a": [1, 2], "b": [1]}), "differ in length"),
        (lambda m: m.report_predictions_data("a,b\n1,2"), "features_df is a str"),
        (lambda m: m.report_predictions_data(predictions=[[0.1, 0.9]], class_names=["a", "b", "c"]),
         "list of 3 class probabilities"),
        (lambda m: m.report_predictions_data(predictions=[1.0], association_ids="a1"), "association_ids is a str"),
        (lambda m: m.report_actuals(), "needs association ids and actual values"),
    ],
)
def test_bad_arguments_raise_clear_errors(mlops: MLOps, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DRCommonException, match=message.replace("[", r"\[")):
        call(mlops)
    assert flush(mlops) == []


def test_reporting_before_init_or_after_shutdown() -> None:
    client = MLOps().set_deployment_id("d").set_model_id("m").set_memory_spooler()
    with pytest.raises(MLOpsNotInitializedError):
        client.report_deployment_stats(1, 1.0)
    client.init()
    client.shutdown()
    with pytest.raises(MLOpsNotInitializedError):
        client.report_deployment_stats(1, 1.0)


def test_no_spooler_reports_nothing_and_needs_no_ids() -> None:
    client = MLOps().set_no_spooler().init()
    client.report_deployment_stats(1, 1.0)
    client.report_predictions_data({"x": [1]}, [1])
    assert client.channel is None and client.delivered_records == 0 and client.shutdown()


def test_stdout_spooler_prints_records(capsys: pytest.CaptureFixture[str]) -> None:
    client = MLOps().set_deployment_id("d").set_model_id("m").set_stdout_spooler().init()
    assert isinstance(client.channel, StdoutChannel)
    client.report_deployment_stats(4, 2.0)
    assert client.shutdown()
    (line,) = capsys.readouterr().out.splitlines()
    assert records.parse(line).data["numPredictions"] == 4


def test_counters(mlops: MLOps) -> None:
    for _ in range(5):
        mlops.report_deployment_stats(1, 1.0)
    flush(mlops)
    assert (mlops.delivered_records, mlops.pending_records, mlops.dropped_records) == (5, 0, 0)


def test_buffer_overflow_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="bosun_local.mlops")
    buffer = RecordBuffer(3)
    assert [buffer.put(str(i)) for i in range(5)] == [True, True, True, False, False]
    assert buffer.dropped == 2 and buffer.pending == 3
    assert "dropped 1 record(s), 1 in total" in caplog.text
    batch = buffer.take(2)
    buffer.requeue(batch[1:])
    buffer.done(1)
    assert buffer.take(10) == ["1", "2"] and buffer.delivered == 1


def test_stdout_channel_writes_to_a_stream() -> None:
    stream = io.StringIO()
    channel = StdoutChannel(stream)
    channel.write_batch(['{"a":1}', '{"b":2}'])
    assert [json.loads(x) for x in stream.getvalue().splitlines()] == [{"a": 1}, {"b": 2}]


def test_shutdown_without_timeout_gives_up_when_nothing_is_delivered(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import bosun_local.mlops.mlops as mlops_module

    monkeypatch.setattr(mlops_module, "STALL_SEC", 1.0)
    client = MLOps().set_deployment_id("d").set_model_id("m").set_rabbitmq_spooler("amqp://guest:guest@127.0.0.1:1/",
                                                                                    "q").init()
    client.report_deployment_stats(1, 1.0)
    start = time.monotonic()
    assert client.shutdown() is False  # the default timeout_sec=0: wait while delivering, not forever
    assert time.monotonic() - start < 30 and client.dropped_records == 1


def test_bulk_stats_write_what_single_calls_write(mlops: MLOps) -> None:
    counts, times = [1, 3, 0], [0.5, 12.25, 3.0]
    users, systems = [False, False, True], [False, True, False]
    for n, t, u, s in zip(counts, times, users, systems, strict=True):
        mlops.report_deployment_stats(n, t, user_error=u, system_error=s)
    mlops.report_deployment_stats_bulk(counts, times, users, systems)
    single, bulk = flush(mlops)[:3], flush(mlops)[3:]
    assert len(bulk) == 3 and len({r.id for r in single + bulk}) == 6
    for one, many in zip(single, bulk, strict=True):
        assert many.header.keys() == one.header.keys() and many.deployment_id == one.deployment_id == "dep"
        assert {**many.data, "timestamp": None} == {**one.data, "timestamp": None}
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", many.id)
    with pytest.raises(DRCommonException, match="different lengths"):
        mlops.report_deployment_stats_bulk([1, 2], [1.0])
    with pytest.raises(DRCommonException, match="execution_time_ms"):
        mlops.report_deployment_stats_bulk([1], [float("nan")])


def test_bulk_put_counts_what_does_not_fit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="bosun_local.mlops")
    buffer = RecordBuffer(3)
    assert buffer.put_many(["a", "b"]) == 2 and buffer.put_many(["c", "d", "e"]) == 1
    assert buffer.dropped == 2 and buffer.take(10) == ["a", "b", "c"]


def test_bulk_lines_are_the_bytes_single_calls_write(monkeypatch: pytest.MonkeyPatch) -> None:
    client = MLOps().set_deployment_id("dep").set_model_id("mod").set_memory_spooler().init()
    monkeypatch.setattr(records, "new_record_id", lambda: "00000000-0000-4000-8000-000000000000")
    monkeypatch.setattr(records, "new_record_ids", lambda n: ["00000000-0000-4000-8000-000000000000"] * n)
    monkeypatch.setattr("bosun_local.mlops.payloads.now_timestamp", lambda: "2026-12-01 08:00:00.000+0000")
    assert client._buffer is not None
    lines: list[str] = []
    monkeypatch.setattr(client._buffer, "put", lambda line: lines.append(line) or True)
    monkeypatch.setattr(client._buffer, "put_many", lambda many: lines.extend(many) or len(many))
    values = [(2, 1.5, True, False), (0, 1e-05, False, True), (7, 3, False, False), (1, 123456789.125, True, True),
              (1, 2.5e16, False, False)]
    for n, elapsed, user, system in values:
        client.report_deployment_stats(n, elapsed, user_error=user, system_error=system)
    client.report_deployment_stats_bulk(*(list(column) for column in zip(*values, strict=True)))
    assert len(lines) == 2 * len(values) and lines[:len(values)] == lines[len(values):]
    lines.clear()  # numpy values take the general path: the same records' data
    client.report_deployment_stats_bulk([2], [1.5], [np.True_], [False])
    client.report_deployment_stats(2, 1.5, user_error=np.True_)
    assert len(lines) == 2 and lines[0] == lines[1]
    client.shutdown()


def test_bulk_stats_refuse_what_single_calls_refuse(mlops: MLOps) -> None:
    """The per-column check lets through exactly what the per-request check does, and names the bad value."""
    for counts, times, field in [([1, 1], [0.5, float("inf")], "execution_time_ms"),
                                 ([1, 1], [float("-inf"), float("inf")], "execution_time_ms"),
                                 ([1, -1], [0.5, 0.5], "num_predictions"), ([True], [0.5], "num_predictions"),
                                 ([1], [-0.5], "execution_time_ms"), ([1], [False], "execution_time_ms"),
                                 ([1.0], [0.5], "num_predictions")]:
        with pytest.raises(DRCommonException, match=field):
            mlops.report_deployment_stats_bulk(counts, times)
    mlops.report_deployment_stats_bulk([1, 0], [1e308, 1e308])  # finite values whose sum overflows: accepted
    mlops.report_deployment_stats_bulk([], [])
    assert [r.data["executionTime"] for r in flush(mlops)] == [1e308, 1e308]


def test_record_ids_are_fresh_time_ordered_uuid7s() -> None:
    before = time.time_ns() // 1_000_000
    ids = records.new_record_ids(5000)
    single = [records.new_record_id() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids + single)) == 7000 and records.new_record_ids(0) == []
    for text in ids + single:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after  # the first 48 bits: Unix time in ms
    assert {text[19] for text in ids} == set("89ab") == {text[19] for text in single}
    # Random below the time: every random hex position takes all 16 digits across 5000 ids.
    assert all(len({text[i] for text in ids}) == 16 for i in (*range(15, 18), *range(20, 23), *range(24, 36)))
    assert sorted(single, key=lambda t: t[:13]) == single  # ms-ordered: the service's id index appends


def test_nan_predictions_are_found_among_plain_numbers(mlops: MLOps) -> None:
    mlops.report_predictions_data({"a": [1.0, 2.0, 3.0, 4.0]}, [0.5, float("nan"), 2, float("inf")])
    (rows,) = [r for r in flush(mlops) if r.data_type == records.PREDICTIONS_DATA]
    assert rows.data["predictions"] == [0.5, 2, None] and rows.data["features"] == {"a": [1.0, 3.0, 4.0]}
    with pytest.raises(DRCommonException, match="expecting int or float"):
        mlops.report_predictions_data(predictions=[0.5, True])
