"""The reporting hook: every request reported off the request path; drops and failures counted, never raised."""
from __future__ import annotations

import asyncio
import gc
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bosun_local.contracts.records import DEPLOYMENT_STATS_PACKED
from bosun_local.pps.inputs import Frame
from bosun_local.pps.report_process import ProcessSink
from bosun_local.pps.reporting import MLOpsSink, Pending, ReportBatch, Reporter
from tests.pps.packages import DIABETES, FORM, ROW
from tests.pps.spool import predictions, requests, spooled, spooling_server, stats

COLUMNS = ["a", "b"]


class RecordingSink:
    """Keeps delivered batches; can be made to block or fail to exercise the Reporter's edges."""

    def __init__(self) -> None:
        self.batches: list[ReportBatch] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False
        self.closed = False

    def deliver(self, items: list[ReportBatch]) -> None:
        self.gate.wait(30)
        if self.fail:
            raise ConnectionError("spool is down")
        self.batches.extend(items)

    @property
    def requests(self) -> int:
        return sum(len(b) for b in self.batches)

    @property
    def predictions(self) -> list[object]:
        return [p for b in self.batches for p in b.predictions or ()]

    def close(self, timeout_sec: float) -> None:
        self.closed = True


def item(i: int, rows: int = 1) -> dict[str, Any]:
    values = np.arange(rows * 2, dtype=np.float64).reshape(rows, 2) + i
    return {"deployment_id": "dep", "model_id": "model", "num_predictions": rows, "execution_time_ms": 1.5,
            "features": Frame(COLUMNS, values, True), "predictions": [float(i)] * rows}


def pack(*requests: dict[str, Any]) -> list[ReportBatch]:
    """Return the batches the reporter ships for these requests (one per deployment and model, in order)."""
    pending: dict[tuple[str, str], Pending] = {}
    for r in requests:
        key = (r["deployment_id"], r["model_id"])
        pending.setdefault(key, Pending(*key)).add(
            r["num_predictions"], r["execution_time_ms"], r.get("user_error", False), r.get("system_error", False),
            r.get("features"), r.get("predictions"), r.get("class_names"))
    return [p.batch() for p in pending.values()]


def test_shutdown_flushes_everything() -> None:
    sink = RecordingSink()
    reporter = Reporter(lambda: sink, max_queue=1000, batch_interval_sec=0.01).start()
    for i in range(500):
        reporter.submit(**item(i))
    reporter.shutdown(30)
    assert sink.predictions == [float(i) for i in range(500)] and sink.requests == 500
    assert sink.closed
    assert reporter.counters() == {"submitted": 500, "reported": 500, "dropped": 0, "errors": 0, "queued": 0}


def test_reporter_on_a_loop_swaps_there_and_flushes_once_the_loop_stopped() -> None:
    """Started with the server's loop, submit() takes no lock (the swap runs on the loop); after the loop stops, the
    last reports are still flushed."""
    sink = RecordingSink()
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    reporter = Reporter(lambda: sink, max_queue=100000, batch_interval_sec=0.01)

    async def start() -> None:
        reporter.start(asyncio.get_running_loop())

    async def serve(first: int, count: int) -> None:
        for i in range(first, first + count):
            reporter.submit(**item(i))
            if i % 50 == 0:
                await asyncio.sleep(0.001)  # let the swap callbacks in between requests

    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    asyncio.run_coroutine_threadsafe(serve(0, 1000), loop).result(30)
    with reporter._lock:  # held all along: a submit() taking it would never finish
        asyncio.run_coroutine_threadsafe(serve(1000, 1000), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    runner.join(10)
    reporter.shutdown(30)  # the loop no longer runs: the last swap happens in the reporting thread
    loop.close()
    assert sink.predictions == [float(i) for i in range(2000)]
    assert reporter.counters() == {"submitted": 2000, "reported": 2000, "dropped": 0, "errors": 0, "queued": 0}
    assert len(sink.batches) > 2


def test_full_queue_drops_and_counts_without_blocking() -> None:
    sink = RecordingSink()
    sink.gate.clear()  # the channel hangs
    reporter = Reporter(lambda: sink, max_queue=10, batch_interval_sec=0.0).start()
    for i in range(100):
        reporter.submit(**item(i))  # returns at once even though nothing drains
    counters = reporter.counters()
    assert counters["submitted"] + counters["dropped"] == 100 and counters["dropped"] > 0
    sink.gate.set()
    reporter.shutdown(30)
    assert sink.requests == reporter.counters()["submitted"]


def test_failing_sink_is_counted_and_reporting_recovers() -> None:
    sink = RecordingSink()
    sink.fail = True
    reporter = Reporter(lambda: sink, batch_interval_sec=0.0).start()
    reporter.submit(**item(1))
    for _ in range(1000):
        if reporter.counters()["errors"]:
            break
        threading.Event().wait(0.01)
    assert reporter.counters()["errors"] == 1
    sink.fail = False
    reporter.submit(**item(2))
    reporter.shutdown(30)
    assert sink.predictions == [2.0]


def test_mlops_sink_reports_stats_and_rows_per_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_SPOOLER_TYPE", "MEMORY")
    for name in ("MLOPS_DEPLOYMENT_ID", "MLOPS_MODEL_ID"):
        monkeypatch.delenv(name, raising=False)
    sink = MLOpsSink()
    classified = {"deployment_id": "dep-c", "model_id": "model-c", "num_predictions": 1, "execution_time_ms": 2.0,
                  "features": Frame(COLUMNS, np.array([[1.0, 2.0]]), True), "predictions": np.array([[0.25, 0.75]]),
                  "class_names": ["no", "yes"]}
    failed = {"deployment_id": "dep", "model_id": "model", "num_predictions": 0, "execution_time_ms": 0.3,
              "user_error": True}
    sink.deliver(pack(item(1, rows=2), failed, item(5, rows=1), classified))
    channels = [sink.client("dep", "model").channel, sink.client("dep-c", "model-c").channel]
    sink.close(10)  # delivers what the library still buffers
    records, sink_c = (channel.records() for channel in channels)
    (packed,) = [r for r in records if r.data_type == DEPLOYMENT_STATS_PACKED]  # one stats record per batch
    assert not stats(records)
    assert [(r[0], r[2]) for r in requests(records)] == [(2, False), (0, True), (1, False)]
    (rows,) = predictions(records)
    assert rows.data["features"] == {"a": [1.0, 3.0, 5.0], "b": [2.0, 4.0, 6.0]}
    assert rows.data["predictions"] == [1.0, 1.0, 5.0]
    (classes,) = predictions(sink_c)
    assert classes.data["classNames"] == ["no", "yes"] and classes.data["predictions"] == [[0.25, 0.75]]


def test_server_reports_every_request_through_the_spool(start_server: object, packages: dict[str, Path],
                                                        tmp_path: Path) -> None:
    server, spool = spooling_server(start_server, packages["binary"], "dep-b", "model-b", tmp_path)
    row = {**ROW, "sex": "f"}
    assert server.client.post("/predictions", json=[row, {**row, "bmi": 40}]).status_code == 200
    assert server.client.get("/predict?" + FORM.replace("sex=1", "sex=m")).status_code == 200
    assert server.client.post("/predictions", json=[{"age": 1}]).status_code == 422
    info = server.client.get("/info").json()
    assert info["monitoring"]["dropped"] == 0
    assert server.stop() == 0
    records = spooled(spool)
    assert {r.deployment_id for r in records} == {"dep-b"} and {r.model_id for r in records} == {"model-b"}
    assert [(r[0], r[2]) for r in requests(records)] == [(2, False), (1, False), (0, True)]
    rows = predictions(records)
    features = {name: [v for r in rows for v in r.data["features"][name]] for name in DIABETES}
    assert features["sex"] == ["f", "f", "m"] and features["bmi"] == [23.0, 40.0, 23.0]
    probabilities = [p for r in rows for p in r.data["predictions"]]
    assert len(probabilities) == 3 and all(sum(p) == pytest.approx(1) for p in probabilities)
    assert all(r.data["classNames"] == ["no", "yes"] for r in rows)


def test_pack_keeps_one_column_set_per_batch_for_open_schema_models() -> None:
    """A custom model without a feature list may get other columns per request: rows of the first set are stacked."""
    def request(columns: list[str], values: list[list[int]], predictions: list[float]) -> dict[str, Any]:
        return {"deployment_id": "dep", "model_id": "model", "num_predictions": len(values), "execution_time_ms": 1.0,
                "features": Frame(columns, np.array(values, dtype=object).reshape(len(values), len(columns)), False),
                "predictions": predictions}

    first = request(["a", "b"], [[1, 2], [3, 4]], [0.1, 0.2])
    other = request(["a", "c"], [[5, 6]], [0.3])
    unread = request([], [[]], [0.4])
    (batch,) = pack(unread, first, other, first)
    assert batch.num_predictions == [1, 2, 1, 2]  # every request still counts
    assert batch.features is not None and batch.features.columns == ["a", "b"]
    assert batch.features.values.tolist() == [[1, 2], [3, 4], [1, 2], [3, 4]]
    assert batch.predictions == [0.1, 0.2, 0.1, 0.2]
    (alone,) = pack(unread)
    assert alone.features is None and alone.predictions is None


def test_queued_requests_leave_no_object_for_the_garbage_collector() -> None:
    """Queued reports are numbers and arrays in column lists: no per-request container the cyclic GC must track."""
    frames = [Frame(COLUMNS, np.array([[float(i), 1.0]]), True) for i in range(2000)]
    probabilities = [np.array([[0.25, 0.75]]) for _ in range(2000)]
    reporter = Reporter(RecordingSink)  # not started: the queue only fills
    gc.disable()
    try:
        gc.collect()
        before = len(gc.get_objects())
        for i, (frame, probs) in enumerate(zip(frames, probabilities, strict=True)):
            reporter.submit("dep", "model", 1, i / 7, False, False, frame, probs, COLUMNS)
            reporter.submit("dep", "model", 0, 0.5, True, False)
        grown = len(gc.get_objects()) - before
    finally:
        gc.enable()
    assert reporter.counters()["queued"] == 4000
    assert grown < 50, f"{grown} new GC-tracked objects for 4000 queued requests"


def test_batch_keeps_row_order_across_prediction_forms() -> None:
    """A classifier's probability arrays are stacked once; rows reported as lists in between keep their place."""
    def scored(predictions: Any) -> dict[str, Any]:
        return {"deployment_id": "dep", "model_id": "model", "num_predictions": len(predictions),
                "execution_time_ms": 1.0, "features": Frame(COLUMNS, np.zeros((len(predictions), 2)), True),
                "predictions": predictions, "class_names": ["no", "yes"]}

    (batch,) = pack(scored(np.array([[0.1, 0.9]])), scored([[0.2, 0.8], [0.3, 0.7]]),
                    scored(np.array([[0.4, 0.6], [0.5, 0.5]])), scored(np.array([[0.6, 0.4]])))
    assert batch.predictions == [[0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.4, 0.6], [0.5, 0.5], [0.6, 0.4]]
    assert batch.features is not None and batch.features.values.shape == (6, 2)
    assert batch.class_names == ["no", "yes"] and batch.num_predictions == [1, 2, 2, 1]


def test_reporting_child_spools_every_request_exactly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Through the real reporting child and FILESYSTEM spool: packed stats records, figures unchanged."""
    monkeypatch.setenv("MLOPS_SPOOLER_TYPE", "FILESYSTEM")
    monkeypatch.setenv("MLOPS_FILESYSTEM_DIRECTORY", str(tmp_path))
    for name in ("MLOPS_DEPLOYMENT_ID", "MLOPS_MODEL_ID"):
        monkeypatch.delenv(name, raising=False)
    reporter = Reporter(ProcessSink, batch_interval_sec=0.05).start()
    times = [i * 0.0137 + 0.001 for i in range(600)]
    sent: list[list[float]] = []
    for i, elapsed in enumerate(times):
        if i % 5 == 4:
            reporter.submit("dep", "model", 0, elapsed, i % 2 == 0, i % 2 == 1)
            continue
        probs = np.array([[i / 1000, 1 - i / 1000]] * (1 + i % 2))
        sent.extend(probs.tolist())
        reporter.submit("dep", "model", len(probs), elapsed, False, False,
                        Frame(COLUMNS, np.full((len(probs), 2), float(i)), True), probs, ["no", "yes"])
    reporter.shutdown(60)
    assert reporter.counters() == {"submitted": 600, "reported": 600, "dropped": 0, "errors": 0, "queued": 0}
    records = spooled(tmp_path)
    got = requests(records)
    assert [r[1] for r in got] == times
    assert [r[0] for r in got] == [0 if i % 5 == 4 else 1 + i % 2 for i in range(600)]
    assert [(r[2], r[3]) for r in got] == [(i % 5 == 4 and i % 2 == 0, i % 5 == 4 and i % 2 == 1) for i in range(600)]
    # Packed per batch (the reporter ships every 50 ms here): far fewer stats records than requests.
    assert not stats(records) and len([r for r in records if r.data_type == DEPLOYMENT_STATS_PACKED]) < 100
    rows = predictions(records)
    assert [p for r in rows for p in r.data["predictions"]] == sent
    assert all(r.data["classNames"] == ["no", "yes"] for r in rows)
    assert sum(len(r.data["features"]["a"]) for r in rows) == len(sent)


def test_numeric_batches_report_the_rows_a_dataframe_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reporting child hands numeric rows over as numpy columns, not a DataFrame: the same PREDICTIONS_DATA."""
    from bosun_local.mlops import MLOps
    from bosun_local.pps.reporting import features_for_report

    monkeypatch.setattr("bosun_local.mlops.payloads.now_timestamp", lambda: "2026-12-02 01:00:00.000+0000")
    values = np.array([[1.5, np.nan], [3.0, 4.25], [np.inf, -2.0], [7.0, 8.0]])
    frame = Frame(COLUMNS, values, True)
    cases = [([0.5, 1.5, 2.5, float("nan")], None),  # a NaN prediction: its row dropped, an event reported
             ([[0.25, 0.75], [0.5, 0.5], [1.0, 0.0], [0.125, 0.875]], ["no", "yes"]),
             ([[0.25, 0.75], [np.nan, np.nan], [1.0, 0.0], [0.125, 0.875]], ["no", "yes"])]
    for predictions_, class_names in cases:
        written = []
        for features in (frame.to_dataframe(), features_for_report(frame)):
            client = MLOps().set_deployment_id("dep").set_model_id("m").set_memory_spooler().init()
            channel = client.channel
            client.report_predictions_data(features, predictions_, class_names=class_names)
            client.shutdown()
            written.append([(r.data_type, {**r.data, "timestamp": None})  # events are stamped when made
                            for r in channel.records()])  # type: ignore[union-attr]
        assert written[0] == written[1]
    assert written[0][-1][1]["features"] == {"a": [1.5, None, 7.0], "b": [None, -2.0, 8.0]}
    mixed = Frame(["a", "s"], np.array([[1.0, "x"]], dtype=object), False)
    assert features_for_report(mixed).to_dict("list") == {"a": [1.0], "s": ["x"]}  # a DataFrame, as before


def test_regression_predictions_are_spooled_as_answered(start_server: object, packages: dict[str, Path],
                                                        tmp_path: Path) -> None:
    """Every request's predictions are spooled exactly as answered, in order, and a rejected request as an error."""
    server, spool = spooling_server(start_server, packages["regression"], "dep-r", "model-r", tmp_path)
    answered: list[float] = []
    for i in range(40):
        body = [{**ROW, "bmi": 20 + i / 7, "age": 30 + j} for j in range(1 + i % 3)]
        response = server.client.post("/predictions", json=body)
        assert response.status_code == 200
        answered += [r["prediction"] for r in response.json()["data"]]
    assert server.client.post("/predictions", json=[{"age": 1}]).status_code == 422
    assert server.stop() == 0
    records = spooled(spool)
    assert [p for r in predictions(records) for p in r.data["predictions"]] == answered
    assert [(r[0], r[2]) for r in requests(records)] == [(1 + i % 3, False) for i in range(40)] + [(0, True)]

