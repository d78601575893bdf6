"""Report each request to the monitoring pipeline from a background thread, never on the request path."""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from bosun_local.pps.inputs import Frame

log = logging.getLogger("bosun_local.pps.reporting")

DRAIN_MAX = 2000  # items taken off the queue per batch: bounds the latency of a batch, not the rows
LOG_EVERY_SEC = 30.0


class ReportSink(Protocol):
    """Where reports go: the reporting library in production, a recorder in tests."""

    def deployment_stats(self, deployment_id: str, model_id: str, num_predictions: int, execution_time_ms: float,
                         user_error: bool, system_error: bool) -> None:
        """Record one request's count, latency and error flags."""

    def predictions_data(self, deployment_id: str, model_id: str, features: Any, predictions: list[Any],
                         class_names: list[str] | None) -> None:
        """Record scored rows: a features DataFrame and one prediction per row."""

    def close(self, timeout_sec: float) -> None:
        """Flush and release the channel."""


@dataclass(frozen=True, slots=True)
class ReportItem:
    """One request as the monitoring pipeline sees it."""

    deployment_id: str
    model_id: str
    num_predictions: int
    execution_time_ms: float
    user_error: bool = False
    system_error: bool = False
    features: Frame | None = None
    predictions: list[Any] | None = None
    class_names: list[str] | None = None


_STOP = object()


class Reporter:
    """A bounded queue and one thread feeding a sink; submit() never blocks and never raises."""

    def __init__(self, sink: ReportSink, max_queue: int = 10000) -> None:
        self.sink = sink
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="pps-reporter", daemon=True)
        self.submitted = 0
        self.reported = 0
        self.dropped = 0
        self.errors = 0
        self._last_log = {"dropped": 0.0, "errors": 0.0}

    def start(self) -> Reporter:
        """Start the background thread."""
        self._thread.start()
        return self

    def submit(self, item: ReportItem) -> None:
        """Queue a report; when the queue is full, count and log the drop instead of slowing the request."""
        try:
            self._queue.put_nowait(item)
            self.submitted += 1
        except queue.Full:
            self.dropped += 1
            self._warn("dropped", f"monitoring queue is full ({self._queue.maxsize} reports): {self.dropped} "
                                  "report(s) dropped so far; the spool is slower than the request rate")

    def counters(self) -> dict[str, int]:
        """Return submitted/reported/dropped/error counts and the queue depth."""
        return {"submitted": self.submitted, "reported": self.reported, "dropped": self.dropped,
                "errors": self.errors, "queued": self._queue.qsize()}

    def shutdown(self, timeout_sec: float = 10.0) -> None:
        """Flush queued reports and close the sink, waiting at most timeout_sec."""
        deadline = time.monotonic() + timeout_sec
        if self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=max(0.1, timeout_sec))
            except queue.Full:
                log.warning("monitoring queue still full at shutdown; %d report(s) not flushed", self._queue.qsize())
            self._thread.join(max(0.1, deadline - time.monotonic()))
            if self._thread.is_alive():
                log.warning("monitoring flush timed out after %.1fs; %d report(s) not flushed",
                            timeout_sec, self._queue.qsize())
        try:
            self.sink.close(max(0.1, deadline - time.monotonic()))
        except Exception as exc:
            log.warning("closing the monitoring channel failed: %s", exc)

    def _warn(self, kind: str, message: str) -> None:
        now = time.monotonic()
        if now - self._last_log[kind] >= LOG_EVERY_SEC:
            self._last_log[kind] = now
            log.warning(message)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < DRAIN_MAX:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in batch)
            self._process([item for item in batch if item is not _STOP])
            if stop:
                return

    def _process(self, items: list[ReportItem]) -> None:
        groups: dict[tuple[Any, ...], list[ReportItem]] = {}
        for item in items:
            try:
                self.sink.deployment_stats(item.deployment_id, item.model_id, item.num_predictions,
                                           item.execution_time_ms, item.user_error, item.system_error)
                self.reported += 1
            except Exception as exc:
                self._failed(exc)
            if item.features is not None and item.predictions is not None:
                key = (item.deployment_id, item.model_id, tuple(item.features.columns),
                       item.features.numeric, tuple(item.class_names or ()))
                groups.setdefault(key, []).append(item)
        for (deployment_id, model_id, _, _, class_names), group in groups.items():
            try:
                frame = Frame(group[0].features.columns,  # type: ignore[union-attr]
                              np.concatenate([g.features.values for g in group]),  # type: ignore[union-attr]
                              group[0].features.numeric)  # type: ignore[union-attr]
                predictions = [p for g in group for p in g.predictions]  # type: ignore[union-attr]
                self.sink.predictions_data(deployment_id, model_id, frame.to_dataframe(), predictions,
                                           list(class_names) or None)
            except Exception as exc:
                self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        self._warn("errors", f"reporting to the monitoring channel failed ({self.errors} failure(s) so far): "
                             f"{type(exc).__name__}: {exc}")


class MLOpsSink:
    """Report through bosun_local.mlops (the datarobot-mlops API), one client per deployment and model."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], Any] = {}

    def _client(self, deployment_id: str, model_id: str) -> Any:
        client = self._clients.get((deployment_id, model_id))
        if client is None:
            from bosun_local.mlops import MLOps

            client = MLOps().set_deployment_id(deployment_id).set_model_id(model_id)
            client.init()
            self._clients[(deployment_id, model_id)] = client
        return client

    def deployment_stats(self, deployment_id: str, model_id: str, num_predictions: int, execution_time_ms: float,
                         user_error: bool, system_error: bool) -> None:
        """Report a request's stats."""
        self._client(deployment_id, model_id).report_deployment_stats(
            num_predictions, execution_time_ms, user_error=user_error, system_error=system_error)

    def predictions_data(self, deployment_id: str, model_id: str, features: Any, predictions: list[Any],
                         class_names: list[str] | None) -> None:
        """Report scored rows."""
        self._client(deployment_id, model_id).report_predictions_data(features, predictions, class_names=class_names)

    def close(self, timeout_sec: float) -> None:
        """Shut every client down within the time left."""
        deadline = time.monotonic() + timeout_sec
        for client in self._clients.values():
            client.shutdown(timeout_sec=max(0.1, deadline - time.monotonic()))
        self._clients.clear()
