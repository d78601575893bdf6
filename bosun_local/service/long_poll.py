"""Long polls: a claimer waits in the service for work to appear instead of asking twice a second.

An idle management agent used to claim every 0.5 s and ask for package checks every second: two HTTP round trips,
two authentications and two write transactions a second for nothing. Now one request waits up to `waitSec`; any
change that may make work claimable (an event is recorded after each) wakes it at once, so an action is picked up
sooner than a poll would, and a slow recheck covers what no wake-up announces (expired leases, another replica).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
# Work no wake-up announces: leases running out, actions queued by another service replica, a wake-up sent before
# its transaction committed. A claim attempt in-process costs well under a millisecond.
RECHECK_SEC = 1.0
MAX_WAIT_SEC = 30.0


class Changes:
    """A counter bumped on every change that may make work claimable; waiters sleep until it moves."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._version = 0
        self._closed = False

    @property
    def version(self) -> int:
        return self._version

    @property
    def closed(self) -> bool:
        return self._closed

    def bump(self) -> None:
        """Wake every waiter: something changed."""
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    def close(self) -> None:
        """Wake every waiter for good: the service is stopping, so long polls answer now."""
        self._closed = True
        self.bump()

    def wait(self, since: int, timeout: float) -> None:
        """Sleep until the version differs from `since`, the service stops, or timeout seconds pass."""
        with self._cond:
            self._cond.wait_for(lambda: self._version != since or self._closed, timeout)


def long_poll(changes: Changes, attempt: Callable[[], T | None], wait_sec: float,
              recheck_sec: float = RECHECK_SEC) -> T | None:
    """Return attempt()'s first result that is not None, trying again on each change, for up to wait_sec."""
    deadline = time.monotonic() + min(max(wait_sec, 0.0), MAX_WAIT_SEC)
    while True:
        seen = changes.version  # read before the attempt: a change during it makes the wait below return at once
        result = attempt()
        left = deadline - time.monotonic()
        if result is not None or left <= 0 or changes.closed:
            return result
        changes.wait(seen, min(left, recheck_sec))
