"""Report each request to the monitoring pipeline from a background thread, never on the request path."""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from bosun_local.configkit.env import env_flag
from bosun_local.pps.inputs import Frame

log = logging.getLogger("bosun_local.pps.reporting")

LOG_EVERY_SEC = 30.0
# "0" makes the reporting child write one DEPLOYMENT_STATS record per request instead of a packed record per batch.
PACKED_STATS_ENV = "PPS_PACKED_STATS"


@dataclass(frozen=True, slots=True)
class ReportBatch:
    """The requests of one deployment and model, packed column-wise (cheap to pickle to the reporting process)."""

    deployment_id: str
    model_id: str
    num_predictions: list[int]
    execution_time_ms: list[float]
    user_error: list[bool]
    system_error: list[bool]
    features: Frame | None = None  # rows of every successful request, in order
    predictions: list[Any] | None = None
    class_names: list[str] | None = None

    def __len__(self) -> int:
        return len(self.num_predictions)


class Pending:
    """The requests of one deployment and model since the last batch, appended column by column.

    Appending numbers and arrays to lists makes no new container per request, so nothing a request leaves queued
    is tracked by the cyclic garbage collector: a queue of per-request objects kept the collector running full
    collections of the server's heap (~10 us per request on one CPU), where monitoring off runs none. A float
    matrix's rows and the execution times are copied as raw bytes (a bytearray, an array('d')) rather than kept
    as objects: holding each request's numpy array (three allocations) until the batch cost the serving thread
    ~3 % of its CPU on one core, more than the appends themselves.
    """

    __slots__ = ("deployment_id", "model_id", "num_predictions", "execution_time_ms", "user_failed", "system_failed",
                 "columns", "numeric", "class_names", "scored", "values", "raw", "dtype", "predictions",
                 "probabilities")

    def __init__(self, deployment_id: str, model_id: str) -> None:
        self.deployment_id = deployment_id
        self.model_id = model_id
        self.num_predictions: list[int] = []
        self.execution_time_ms = array("d")
        # Positions of failed requests only (a served request appends nothing), in arrays: no GC-tracked tuple.
        self.user_failed = array("q")
        self.system_failed = array("q")
        self.columns: list[str] | None = None  # the feature columns the batch's matrix takes (the first request's)
        self.numeric = True
        self.class_names: list[str] | None = None
        self.scored = False
        self.values: list[np.ndarray] = []  # rows of a matrix that is not float (objects: mixed types)
        self.raw: bytearray | None = None  # rows of a float matrix, C order
        self.dtype: np.dtype[Any] | None = None
        self.predictions: list[Any] = []  # numbers, labels or probability rows, one per row
        self.probabilities: list[np.ndarray] = []  # classifiers' (rows, classes) arrays, after `predictions`

    def __len__(self) -> int:
        return len(self.num_predictions)

    def add(self, num_predictions: int, execution_time_ms: float, user_error: bool, system_error: bool,
            features: Frame | None, predictions: list[Any] | np.ndarray | None, class_names: list[str] | None) -> None:
        """Append one request; its rows and predictions only when it was scored with the batch's columns."""
        self.execution_time_ms.append(execution_time_ms)
        self.num_predictions.append(num_predictions)
        if user_error:
            self.user_failed.append(len(self.num_predictions) - 1)
        if system_error:
            self.system_failed.append(len(self.num_predictions) - 1)
        if features is None or predictions is None:
            return
        columns = features.columns
        raw = self.raw
        if raw is not None and columns is self.columns and type(predictions) is list:
            # The common request (the schema's own column list, float rows, plain predictions): the fewest steps.
            values = features.values
            raw += (values if values.dtype is self.dtype else values.astype(self.dtype)).tobytes()
            if self.probabilities:
                self._flush_probabilities()
            self.predictions.extend(predictions)
            return
        if self.columns is None:
            # A model without a feature list (DRUM's open schema) may get other columns per request: the matrix
            # takes the first request's columns, the others still count as predictions in the deployment stats.
            if not columns:
                if not self.scored:
                    self.scored, self.class_names = True, class_names
                return
            self.columns, self.numeric, self.class_names, self.scored = columns, features.numeric, class_names, True
            if features.values.dtype.kind == "f":
                self.raw, self.dtype = bytearray(), features.values.dtype
        elif columns is not self.columns and columns != self.columns:
            return
        if self.raw is not None:
            values = features.values
            self.raw += (values if values.dtype is self.dtype else values.astype(self.dtype)).tobytes()
        else:
            self.values.append(features.values)
        if isinstance(predictions, np.ndarray):
            self.probabilities.append(predictions)
        else:
            if self.probabilities:
                self._flush_probabilities()
            self.predictions.extend(predictions)

    def _flush_probabilities(self) -> None:
        """Move the queued probability arrays into the predictions, keeping rows in order when a batch mixes forms."""
        self.predictions.extend(np.concatenate(self.probabilities).tolist())
        self.probabilities.clear()

    def errors(self) -> tuple[list[bool], list[bool]]:
        """Return the user and system error flag of every request."""
        user, system = [False] * len(self.num_predictions), [False] * len(self.num_predictions)
        for position in self.user_failed:
            user[position] = True
        for position in self.system_failed:
            system[position] = True
        return user, system

    def batch(self) -> ReportBatch:
        """Return the requests as one batch, their scored rows stacked into one matrix."""
        features = predictions = None
        if self.columns is not None:
            matrix = np.concatenate(self.values) if self.raw is None else np.frombuffer(
                self.raw, dtype=self.dtype).reshape(-1, len(self.columns))
            features = Frame(self.columns, matrix, self.numeric)
            if self.probabilities:
                self._flush_probabilities()
            predictions = self.predictions
        user_error, system_error = self.errors()
        return ReportBatch(self.deployment_id, self.model_id, self.num_predictions, self.execution_time_ms.tolist(),
                           user_error, system_error, features, predictions, self.class_names if self.scored else None)


def features_for_report(features: Frame) -> Any:
    """Return a batch's rows as report_predictions_data takes them: numbers as a dict of float64 columns.

    The library turns each numpy column into the list a DataFrame of the matrix would give (the same floats, NaN
    as null) without that DataFrame, which was most of the reporting process's work per row.
    """
    if features.numeric and features.source is None:
        return dict(zip(features.columns, features.values.astype(np.float64, copy=False).T, strict=True))
    return features.to_dataframe()


class ReportSink(Protocol):
    """Where batches of reports go: the reporting library (in a child process) in production, a recorder in tests."""

    def deliver(self, batches: list[ReportBatch]) -> None:
        """Report packed requests; raise when the channel failed."""

    def close(self, timeout_sec: float) -> None:
        """Flush and release the channel."""


class Reporter:
    """Column buffers and one thread feeding a sink; submit() never blocks and never raises.

    The serving thread appends each request's numbers to its deployment's column buffers; the reporting thread
    wakes every batch interval, swaps the buffers for empty ones and ships what was there. No per-request object,
    lock, condition or thread wake-up: with the server and its reporter on one CPU, every microsecond on the request
    path is a microsecond of throughput. Started with the server's event loop (the one thread that submits), the swap
    runs as a callback on that loop, between requests, so submit() takes no lock; without a loop (tests, tools)
    submit() and the swap share a lock.
    """

    def __init__(self, make_sink: Callable[[], ReportSink], max_queue: int = 10000,
                 batch_interval_sec: float = 0.5) -> None:
        self._make_sink = make_sink
        self.sink: ReportSink | None = None
        self.batch_interval_sec = batch_interval_sec
        self.max_queue = max_queue
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[tuple[str, str], Pending] = {}
        self._queued = 0
        self._thread = threading.Thread(target=self._run, name="pps-reporter", daemon=True)
        self._swapped = 0  # requests taken by swaps so far: submitted = swapped + queued, one counter per request
        self.reported = 0
        self.dropped = 0
        self.errors = 0
        self._last_log = {"dropped": 0.0, "errors": 0.0}

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> Reporter:
        """Open the sink and start the background thread; `loop`: the event loop every submit() comes from."""
        self._loop = loop
        self.sink = self._make_sink()
        self._thread.start()
        return self

    def submit(self, deployment_id: str, model_id: str, num_predictions: int, execution_time_ms: float,
               user_error: bool = False, system_error: bool = False, features: Frame | None = None,
               predictions: list[Any] | np.ndarray | None = None, class_names: list[str] | None = None) -> None:
        """Queue a request's report; when the queue is full, count and log the drop instead of slowing the request."""
        if self._queued >= self.max_queue:
            self.dropped += 1
            self._warn("dropped", f"monitoring queue is full ({self.max_queue} reports): {self.dropped} "
                                  "report(s) dropped so far; the spool is slower than the request rate")
            return
        if self._loop is not None:  # on the loop, where the swap runs too: nothing else touches the buffers meanwhile
            pending = self._pending.get((deployment_id, model_id)) or self._pending_of(deployment_id, model_id)
            pending.add(num_predictions, execution_time_ms, user_error, system_error, features, predictions,
                        class_names)
            self._queued += 1
            return
        with self._lock:
            self._pending_of(deployment_id, model_id).add(num_predictions, execution_time_ms, user_error,
                                                          system_error, features, predictions, class_names)
            self._queued += 1

    def _pending_of(self, deployment_id: str, model_id: str) -> Pending:
        pending = self._pending.get((deployment_id, model_id))
        if pending is None:
            pending = self._pending[(deployment_id, model_id)] = Pending(deployment_id, model_id)
        return pending

    def counters(self) -> dict[str, int]:
        """Return submitted/reported/dropped/error counts and the queue depth."""
        queued = self._queued
        return {"submitted": self._swapped + queued, "reported": self.reported, "dropped": self.dropped,
                "errors": self.errors, "queued": queued}

    @property
    def submitted(self) -> int:
        """Return how many requests were queued (the swapped ones and those waiting), drops not counted."""
        return self._swapped + self._queued

    def shutdown(self, timeout_sec: float = 10.0) -> None:
        """Flush queued reports and close the sink, waiting at most timeout_sec."""
        deadline = time.monotonic() + timeout_sec
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(max(0.1, timeout_sec))
            if self._thread.is_alive():
                log.warning("monitoring flush timed out after %.1fs; %d report(s) not flushed",
                            timeout_sec, self._queued)
        if self.sink is None:
            return
        try:
            self.sink.close(max(0.1, deadline - time.monotonic()))
        except Exception as exc:
            log.warning("closing the monitoring channel failed: %s", exc)

    def _warn(self, kind: str, message: str) -> None:
        now = time.monotonic()
        if now - self._last_log[kind] >= LOG_EVERY_SEC:
            self._last_log[kind] = now
            log.warning(message)

    def _swap(self) -> list[Pending]:
        self._swapped += self._queued
        pending, self._pending, self._queued = self._pending, {}, 0
        return list(pending.values())

    def _take(self) -> list[Pending]:
        """Return the buffers filled since the last call (swapped on the submitting loop when there is one)."""
        loop = self._loop
        if loop is not None:
            taken = self._take_on(loop)
            if taken is not None:
                return taken
        with self._lock:
            return self._swap()

    def _take_on(self, loop: asyncio.AbstractEventLoop) -> list[Pending] | None:
        """Swap the buffers in a callback on the loop; None when the loop no longer runs (then nothing submits)."""
        result: concurrent.futures.Future[list[Pending]] = concurrent.futures.Future()

        def swap() -> None:
            if result.set_running_or_notify_cancel():  # not given up on by the reporting thread
                result.set_result(self._swap())

        try:
            loop.call_soon_threadsafe(swap)
        except RuntimeError:  # the loop is closed
            return None
        while True:
            try:
                return result.result(timeout=0.5)
            except concurrent.futures.TimeoutError:
                # A busy loop runs the callback later; a stopped one never will: swap here instead (cancel()
                # fails when the callback has started, and then its result comes).
                if not loop.is_running() and result.cancel():
                    self._loop = None  # from now on submit() (if any) and the swap share the lock
                    return None

    def _run(self) -> None:
        while True:
            # Let reports accumulate: fewer, larger batches cost less per report.
            stopping = self._stopping.wait(self.batch_interval_sec)
            taken = self._take()
            if taken:
                self._process(taken)
            if stopping:
                return

    def _process(self, pending: list[Pending]) -> None:
        count = sum(len(p) for p in pending)
        try:
            assert self.sink is not None
            self.sink.deliver([p.batch() for p in pending])
            self.reported += count
        except Exception as exc:
            self._failed(exc, count)

    def _failed(self, exc: Exception, count: int) -> None:
        self.errors += count
        self._warn("errors", f"reporting to the monitoring channel failed ({self.errors} report(s) lost so far): "
                             f"{type(exc).__name__}: {exc}")


class MLOpsSink:
    """Report through bosun_local.mlops (the datarobot-mlops API), one client per deployment and model.

    A batch's stats go as one DEPLOYMENT_STATS_PACKED record (bosun_local/contracts/packed_stats.py), which our
    monitoring agent counts exactly as the per-request DEPLOYMENT_STATS records; PPS_PACKED_STATS=0 writes those
    instead, for a spool read by another agent.
    """

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], Any] = {}
        self.packed = env_flag(os.environ, PACKED_STATS_ENV) is not False

    def client(self, deployment_id: str, model_id: str) -> Any:
        """Return the initialised MLOps client of a deployment and model, creating it on first use."""
        client = self._clients.get((deployment_id, model_id))
        if client is None:
            from bosun_local.mlops import MLOps

            client = MLOps().set_deployment_id(deployment_id).set_model_id(model_id)
            client.init()
            self._clients[(deployment_id, model_id)] = client
        return client

    def deliver(self, batches: list[ReportBatch]) -> None:
        """Report the batch's stats (one packed record, or one record per request), then its scored rows."""
        for batch in batches:
            client = self.client(batch.deployment_id, batch.model_id)
            client.report_deployment_stats_bulk(batch.num_predictions, batch.execution_time_ms, batch.user_error,
                                                batch.system_error, packed=self.packed)
            if batch.features is not None and batch.predictions is not None:
                client.report_predictions_data(features_for_report(batch.features), batch.predictions,
                                               class_names=batch.class_names)

    def close(self, timeout_sec: float) -> None:
        """Shut every client down within the time left."""
        deadline = time.monotonic() + timeout_sec
        for client in self._clients.values():
            client.shutdown(timeout_sec=max(0.1, deadline - time.monotonic()))
        self._clients.clear()
