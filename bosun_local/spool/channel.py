"""Channel interface, and the background writer thread shared by the simple channels."""
from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod

from bosun_local.spool.buffer import RecordBuffer

log = logging.getLogger("bosun_local.mlops")


class ChannelUnavailable(Exception):
    """The channel cannot take records right now (broker down, spool full, disk error); retry later.

    ``written`` says how many records at the head of the batch were written before the failure.
    """

    def __init__(self, message: str, written: int = 0) -> None:
        super().__init__(message)
        self.written = written


class Channel(ABC):
    """Delivers encoded records from a RecordBuffer to a spool."""

    kind: str = "?"

    @abstractmethod
    def start(self, buffer: RecordBuffer) -> None:
        """Begin delivering records from buffer in the background."""

    def write_through(self) -> None:  # noqa: B027 - optional hook, most channels are async only
        """Deliver buffered records in the caller's thread (sync reporting); no-op when unsupported."""

    @abstractmethod
    def close(self, timeout: float) -> bool:
        """Deliver what is buffered (up to timeout), then stop; return True if nothing was left."""


class ThreadedChannel(Channel):
    """A channel whose writes are plain calls; one worker thread batches them and retries with backoff."""

    def __init__(self, batch_size: int = 1000, retry_max_sec: float = 1.0) -> None:
        self.batch_size = max(1, batch_size)
        self.retry_max_sec = retry_max_sec
        self._buffer: RecordBuffer | None = None
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._down_since: float | None = None
        self._retry_delay = 0.0
        self._next_try = 0.0

    @abstractmethod
    def write_batch(self, lines: list[str]) -> None:
        """Write encoded records, in order; raise ChannelUnavailable when they could not be written."""

    def close_sink(self) -> None:  # noqa: B027 - optional hook
        """Release files or handles when the channel stops."""

    def start(self, buffer: RecordBuffer) -> None:
        """Start the worker thread."""
        self._buffer = buffer
        self._thread = threading.Thread(target=self._run, name=f"mlops-{self.kind.lower()}-writer", daemon=True)
        self._thread.start()

    def _deliver_once(self) -> int:
        """Take one batch from the buffer and write it; return how many records were written."""
        assert self._buffer is not None
        with self._write_lock:
            if self._down_since is not None and time.monotonic() < self._next_try:
                return 0
            batch = self._buffer.take(self.batch_size, timeout=None)
            if not batch:
                return 0
            try:
                self.write_batch(batch)
            except ChannelUnavailable as exc:
                if exc.written:
                    self._buffer.done(exc.written)
                self._buffer.requeue(batch[exc.written :])
                self._note_down(str(exc))
                return exc.written
            self._buffer.done(len(batch))
            self._note_up()
            return len(batch)

    def _note_down(self, reason: str) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            log.warning(
                "mlops %s channel unavailable (%s); buffering up to %d records and retrying",
                self.kind, reason, self._buffer.max_records if self._buffer else 0,
            )
        self._retry_delay = min(max(self._retry_delay * 2, 0.1), self.retry_max_sec)
        self._next_try = now + self._retry_delay

    def _note_up(self) -> None:
        if self._down_since is not None:
            log.warning(
                "mlops %s channel available again after %.1f s", self.kind, time.monotonic() - self._down_since
            )
        self._down_since = None
        self._retry_delay = 0.0

    def _run(self) -> None:
        assert self._buffer is not None
        while not self._stop.is_set():
            if self._down_since is not None:
                self._stop.wait(max(0.0, self._next_try - time.monotonic()))
            if not self._deliver_once() and self._down_since is None:
                self._buffer.wait_for_records(0.5)

    def write_through(self) -> None:
        """Write everything buffered now, in the caller's thread; failures stay buffered for the worker."""
        while self._buffer is not None and self._deliver_once():
            pass

    def close(self, timeout: float) -> bool:
        """Flush the buffer (bounded by timeout), stop the worker and close the sink."""
        assert self._buffer is not None
        ok = self._buffer.wait_empty(timeout)
        self._stop.set()
        self._buffer.wake()
        if self._thread is not None:
            self._thread.join(timeout=max(1.0, timeout))
        self.close_sink()
        return ok
