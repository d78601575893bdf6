"""The bounded in-memory buffer between report_* calls and the channel that delivers records."""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger("bosun_local.mlops")

# How often (at most) a continuing overflow is logged again with the running count.
_DROP_LOG_INTERVAL_SEC = 10.0


class RecordBuffer:
    """FIFO of encoded records; bounded (pending + in flight), overflow counted and logged, never silent."""

    def __init__(self, max_records: int) -> None:
        self.max_records = max(1, max_records)
        self._queue: deque[str] = deque()
        self._in_flight = 0
        self._cond = threading.Condition()
        self.dropped = 0
        self.accepted = 0
        self.delivered = 0
        self._last_drop_log = 0.0
        self._drops_since_log = 0
        self.on_put: Callable[[], None] | None = None

    def put(self, line: str) -> bool:
        """Append one record; return False (and count it) when the buffer is full."""
        with self._cond:
            if len(self._queue) + self._in_flight >= self.max_records:
                self._count_drop()
                return False
            self._queue.append(line)
            self.accepted += 1
            self._cond.notify_all()
        if self.on_put is not None:
            self.on_put()
        return True

    def put_many(self, lines: list[str]) -> int:
        """Append records under one lock; return how many fit (the rest are counted as dropped)."""
        with self._cond:
            room = max(0, self.max_records - len(self._queue) - self._in_flight)
            taken = lines if len(lines) <= room else lines[:room]
            self._queue.extend(taken)
            self.accepted += len(taken)
            for _ in range(len(lines) - len(taken)):
                self._count_drop()
            if taken:
                self._cond.notify_all()
        if taken and self.on_put is not None:
            self.on_put()
        return len(taken)

    def _count_drop(self) -> None:
        self.dropped += 1
        self._drops_since_log += 1
        now = time.monotonic()
        if self._drops_since_log == 1 or now - self._last_drop_log >= _DROP_LOG_INTERVAL_SEC:
            log.error(
                "mlops reporting buffer full (%d records): dropped %d record(s), %d in total; "
                "the channel is down or slower than the app; raise MLOPS_REPORT_QUEUE_MAX_SIZE or fix the channel",
                self.max_records,
                self._drops_since_log,
                self.dropped,
            )
            self._last_drop_log = now
            self._drops_since_log = 0

    def take(self, max_records: int, timeout: float | None = None) -> list[str]:
        """Move up to max_records from the queue to in-flight; wait up to timeout for the first one."""
        with self._cond:
            if not self._queue and timeout:
                self._cond.wait(timeout)
            n = min(max_records, len(self._queue))
            batch = [self._queue.popleft() for _ in range(n)]
            self._in_flight += n
            return batch

    def done(self, n: int) -> None:
        """Mark n in-flight records as delivered."""
        with self._cond:
            self._in_flight -= n
            self.delivered += n
            self._cond.notify_all()

    def requeue(self, lines: list[str]) -> None:
        """Put in-flight records back at the head, in order, to be delivered again."""
        with self._cond:
            self._queue.extendleft(reversed(lines))
            self._in_flight -= len(lines)
            self._cond.notify_all()

    def wait_for_records(self, timeout: float) -> None:
        """Block until a record is queued or timeout passes."""
        with self._cond:
            if not self._queue:
                self._cond.wait(timeout)

    def wake(self) -> None:
        """Wake a thread blocked in take() (used at shutdown)."""
        with self._cond:
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        """Return the number of records not yet delivered (queued plus in flight)."""
        with self._cond:
            return len(self._queue) + self._in_flight

    def wait_empty(self, timeout: float) -> bool:
        """Wait until every accepted record is delivered; return False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    def drain(self) -> list[str]:
        """Remove and return every queued (not in-flight) record; used when giving up at shutdown."""
        with self._cond:
            lines = list(self._queue)
            self._queue.clear()
            return lines
