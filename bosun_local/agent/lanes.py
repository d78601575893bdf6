"""Per-deployment lanes: jobs for one deployment run in order, jobs for different deployments concurrently."""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)
Job = Callable[[], None]


class Lanes:
    """A thread pool where each key (deployment id) is a serial queue."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lane")
        self._lock = threading.Lock()
        self._queues: dict[str, deque[tuple[str, Job]]] = {}
        self._running: dict[str, str] = {}

    def submit(self, key: str, name: str, job: Job) -> None:
        """Queue a job behind the key's earlier jobs."""
        with self._lock:
            queue = self._queues.setdefault(key, deque())
            queue.append((name, job))
            if key in self._running:
                return
            self._running[key] = name
        self._pool.submit(self._drain, key)

    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                queue = self._queues.get(key)
                if not queue:
                    self._queues.pop(key, None)
                    self._running.pop(key, None)
                    return
                name, job = queue.popleft()
                self._running[key] = name
            try:
                job()
            except Exception:  # a job's own error handling failed; the lane must keep going
                log.exception("job %s of %s failed", name, key)

    def busy(self, key: str) -> bool:
        """Return True while the key has a job running or queued."""
        with self._lock:
            return key in self._running

    def active(self) -> dict[str, str]:
        """Return key -> name of the job running (or next) for every busy key."""
        with self._lock:
            return dict(self._running)

    def has_capacity(self) -> bool:
        """Return True when a new key's job would start at once."""
        with self._lock:
            return len(self._running) < self.workers

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs; return False when the timeout passed first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.active():
                return True
            time.sleep(0.1)
        return not self.active()

    def shutdown(self) -> None:
        """Stop taking jobs; running ones finish in their threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
