"""Long polls: a claimer waits in the service for work to appear instead of asking twice a second.

An idle management agent used to claim every 0.5 s and ask for package checks every second: two HTTP round trips,
two authentications and two write transactions a second for nothing. Now one request waits up to `waitSec`; any
change that may make work claimable (an event is recorded after each) wakes it at once, so an action is picked up
sooner than a poll would, and a slow recheck covers what no wake-up announces (expired leases, another replica).
A waiting poll costs nothing between wake-ups: no timer ticks while nothing changes. A poll whose client went away
claims nothing.
"""
from __future__ import annotations

import asyncio
import contextlib
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


class Changes:
    """A counter bumped on every change that may make work claimable; waiting polls sleep until it moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = 0
        self._closed = False
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def version(self) -> int:
        return self._version

    @property
    def closed(self) -> bool:
        return self._closed

    def bump(self) -> None:
        """Wake every waiter: something changed (callable from any thread)."""
        with self._lock:
            self._version += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that waiter's loop has closed: nothing to wake
                loop.call_soon_threadsafe(event.set)

    def close(self) -> None:
        """Wake every waiter for good: the service is stopping, so long polls answer now."""
        self._closed = True
        self.bump()

    async def wait(self, seen: int, timeout: float) -> None:
        """Return once the version has moved past seen, or after timeout seconds."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            if self._version != seen:
                return
            self._waiters.add(entry)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry[1].wait(), max(0.0, timeout))
        finally:
            with self._lock:
                self._waiters.discard(entry)


async def long_poll(changes: Changes, attempt: Callable[[], T | None], wait_sec: float,
                    disconnected: Callable[[], Awaitable[bool]], recheck_sec: float = RECHECK_SEC) -> T | None:
    """Return attempt()'s first result that is not None, trying again on each change, for up to wait_sec.

    attempt() runs in a worker thread (it is a storage transaction). Before each attempt the poll checks whether
    the client went away: a claim made for a dead client (an agent killed mid-poll) would hold its action until
    the lease ran out, and the restarted agent, same id, would not know it had it.
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
        await changes.wait(seen, min(left, recheck_sec))
