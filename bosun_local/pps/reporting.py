"""Report each request to the monitoring pipeline from a background thread, never on the request path."""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from bosun_local.pps.inputs import Frame

log = logging.getLogger("bosun_local.pps.reporting")

DRAIN_MAX = 2000  # items taken off the queue per batch: bounds the latency of a batch, not the rows
LOG_EVERY_SEC = 30.0


class ReportItem(NamedTuple):
    """One request as the monitoring pipeline sees it."""

    # A NamedTuple, not a frozen dataclass: made once per request on the serving path, where a frozen
    # dataclass's __init__ (object.__setattr__ per field) costs ~2.5 us and a tuple ~0.3 us.

    deployment_id: str
    model_id: str
    num_predictions: int
    execution_time_ms: float
    user_error: bool = False
    system_error: bool = False
    features: Frame | None = None
    predictions: list[Any] | None = None
    class_names: list[str] | None = None


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


def pack(items: list[ReportItem]) -> list[ReportBatch]:
    """Group requests by deployment and model, stacking their feature rows into one matrix."""
    groups: dict[tuple[str, str], list[ReportItem]] = {}
    for item in items:
        groups.setdefault((item.deployment_id, item.model_id), []).append(item)
    batches = []
    for (deployment_id, model_id), group in groups.items():
        scored_items = [g for g in group if g.features is not None and g.predictions is not None]
        scored = next((g for g in scored_items if g.features is not None and g.features.columns),
                      scored_items[0] if scored_items else None)
        # A model without a feature list (DRUM's open schema) may get other columns per request: one matrix
        # takes the first request's columns, the others still count as predictions in the deployment stats.
        columns = scored.features.columns if scored is not None and scored.features is not None else None
        same = [g for g in group if g.features is not None and g.predictions is not None and columns and
                g.features.columns == columns]
        frames = [g.features for g in same if g.features is not None]
        rows = [p for g in same if g.predictions is not None for p in g.predictions]
        features = Frame(frames[0].columns, np.concatenate([f.values for f in frames]), frames[0].numeric) \
            if frames else None
        batches.append(ReportBatch(
            deployment_id, model_id, [g.num_predictions for g in group], [g.execution_time_ms for g in group],
            [g.user_error for g in group], [g.system_error for g in group], features,
            rows if frames else None, scored.class_names if scored else None))
    return batches


class ReportSink(Protocol):
    """Where batches of reports go: the reporting library (in a child process) in production, a recorder in tests."""

    def deliver(self, batches: list[ReportBatch]) -> None:
        """Report packed requests; raise when the channel failed."""

    def close(self, timeout_sec: float) -> None:
        """Flush and release the channel."""


class Reporter:
    """A bounded deque and one thread feeding a sink; submit() never blocks, never raises, takes no lock.

    The serving thread only appends to a deque (atomic under the GIL); the reporting thread wakes every
    batch interval and takes what is there. No per-request lock, condition or thread wake-up: with the server
    and its reporter on one CPU, every microsecond on the request path is a microsecond of throughput.
    """

    def __init__(self, make_sink: Callable[[], ReportSink], max_queue: int = 10000,
                 batch_interval_sec: float = 0.5) -> None:
        self._make_sink = make_sink
        self.sink: ReportSink | None = None
        self.batch_interval_sec = batch_interval_sec
        self.max_queue = max_queue
        self._stopping = threading.Event()
        self._items: deque[ReportItem] = deque()
        self._thread = threading.Thread(target=self._run, name="pps-reporter", daemon=True)
        self.submitted = 0
        self.reported = 0
        self.dropped = 0
        self.errors = 0
        self._last_log = {"dropped": 0.0, "errors": 0.0}

    def start(self) -> Reporter:
        """Open the sink and start the background thread."""
        self.sink = self._make_sink()
        self._thread.start()
        return self

    def submit(self, item: ReportItem) -> None:
        """Queue a report; when the queue is full, count and log the drop instead of slowing the request."""
        if len(self._items) >= self.max_queue:
            self.dropped += 1
            self._warn("dropped", f"monitoring queue is full ({self.max_queue} reports): {self.dropped} "
                                  "report(s) dropped so far; the spool is slower than the request rate")
            return
        self._items.append(item)
        self.submitted += 1

    def counters(self) -> dict[str, int]:
        """Return submitted/reported/dropped/error counts and the queue depth."""
        return {"submitted": self.submitted, "reported": self.reported, "dropped": self.dropped,
                "errors": self.errors, "queued": len(self._items)}

    def shutdown(self, timeout_sec: float = 10.0) -> None:
        """Flush queued reports and close the sink, waiting at most timeout_sec."""
        deadline = time.monotonic() + timeout_sec
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(max(0.1, timeout_sec))
            if self._thread.is_alive():
                log.warning("monitoring flush timed out after %.1fs; %d report(s) not flushed",
                            timeout_sec, len(self._items))
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

    def _take(self) -> list[ReportItem]:
        items = self._items
        return [items.popleft() for _ in range(min(len(items), DRAIN_MAX))]

    def _run(self) -> None:
        while True:
            # Let reports accumulate: fewer, larger batches cost less per report.
            stopping = self._stopping.wait(self.batch_interval_sec)
            batch = self._take()
            while batch:
                self._process(batch)
                batch = self._take()
            if stopping:
                return

    def _process(self, items: list[ReportItem]) -> None:
        try:
            assert self.sink is not None
            self.sink.deliver(pack(items))
            self.reported += len(items)
        except Exception as exc:
            self._failed(exc, len(items))

    def _failed(self, exc: Exception, count: int) -> None:
        self.errors += count
        self._warn("errors", f"reporting to the monitoring channel failed ({self.errors} report(s) lost so far): "
                             f"{type(exc).__name__}: {exc}")


class MLOpsSink:
    """Report through bosun_local.mlops (the datarobot-mlops API), one client per deployment and model."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], Any] = {}

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
        """Report each request's stats, then the batch's scored rows in one call."""
        for batch in batches:
            client = self.client(batch.deployment_id, batch.model_id)
            client.report_deployment_stats_bulk(batch.num_predictions, batch.execution_time_ms, batch.user_error,
                                                batch.system_error)
            if batch.features is not None and batch.predictions is not None:
                client.report_predictions_data(batch.features.to_dataframe(), batch.predictions,
                                               class_names=batch.class_names)

    def close(self, timeout_sec: float) -> None:
        """Shut every client down within the time left."""
        deadline = time.monotonic() + timeout_sec
        for client in self._clients.values():
            client.shutdown(timeout_sec=max(0.1, deadline - time.monotonic()))
        self._clients.clear()
