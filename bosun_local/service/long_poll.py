"""Long polls: a claimer waits in the service for work to appear instead of asking twice a second.

An idle management agent used to claim every 0.5 s and ask for package checks every second: two HTTP round trips,
two authentications and two write transactions a second for nothing. Now one request waits up to `waitSec`; any
change that may make work claimable (an event is recorded after each) wakes it within TICK_SEC, so an action is
picked up sooner than a poll would, and a slow recheck covers what no wake-up announces (expired leases, another
replica). A poll whose client went away claims nothing.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

T = TypeVar("T")
# Work no wake-up announces: leases running out, actions queued by another service replica, a wake-up sent before
# its transaction committed. A claim attempt in-process costs well under a millisecond.
RECHECK_SEC = 1.0
MAX_WAIT_SEC = 30.0
# How often a waiting poll looks for a change and for its client having gone (a few µs each time).
TICK_SEC = 0.1


class Changes:
    """A counter bumped on every change that may make work claimable; waiting polls watch it move."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
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
        with self._lock:
            self._version += 1

    def close(self) -> None:
        """Wake every waiter for good: the service is stopping, so long polls answer now."""
        self._closed = True
        self.bump()



async def long_poll(changes: Changes, attempt: Callable[[], T | None], wait_sec: float,
                    disconnected: Callable[[], Awaitable[bool]], recheck_sec: float = RECHECK_SEC) -> T | None:
    """Return attempt()'s first result that is not None, trying again on each change, for up to wait_sec.

    attempt() runs in a worker thread (it is a storage transaction). Between attempts the wait checks, every
    TICK_SEC, whether the client went away: a claim made for a dead client (an agent killed mid-poll) would hold
    its action until the lease ran out, and the restarted agent, same id, would not know it had it.
    """
    deadline = time.monotonic() + min(max(wait_sec, 0.0), MAX_WAIT_SEC)
    while True:
        seen = changes.version  # read before the attempt: a change during it ends the wait below at once
        if await disconnected():
            return None
        result = await anyio.to_thread.run_sync(attempt)
        left = deadline - time.monotonic()
        if result is not None or left <= 0 or changes.closed:
            return result
        until = time.monotonic() + min(left, recheck_sec)
        while changes.version == seen and not changes.closed and time.monotonic() < until:
            if await disconnected():
                return None
            await anyio.sleep(min(TICK_SEC, max(0.0, until - time.monotonic())))
