"""Long polls in the service: a waiting claim wakes on a change, misses none, answers on stop, and claims nothing
for a client that went away."""
from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from bosun_local.service.long_poll import Changes, long_poll

# Far longer than any test waits: only a change (never the recheck or the deadline) can end these polls.
NEVER = 600.0


async def _connected() -> bool:
    return False


def _poll_in_thread(changes: Changes, attempt: Callable[[], Any],
                    disconnected: Callable[[], Awaitable[bool]] = _connected) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def run() -> None:
        out.append(anyio.run(lambda: long_poll(changes, attempt, NEVER, disconnected, recheck_sec=NEVER)))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_a_change_wakes_the_poll_which_then_finds_the_work() -> None:
    changes, work, attempts = Changes(), [], []
    tried = threading.Event()

    def attempt() -> str | None:
        attempts.append(1)
        tried.set()
        return work[0] if work else None

    thread, out = _poll_in_thread(changes, attempt)
    assert tried.wait(60)
    work.append("action-1")
    changes.bump()
    thread.join(60)
    assert not thread.is_alive() and out == ["action-1"] and len(attempts) == 2


def test_a_change_made_during_an_attempt_is_not_missed() -> None:
    changes, attempts = Changes(), []

    def attempt() -> str | None:
        attempts.append(1)
        if len(attempts) == 1:
            changes.bump()  # lands after the attempt read the queue and before the poll waits
            return None
        return "action-2"

    thread, out = _poll_in_thread(changes, attempt)
    thread.join(60)
    assert not thread.is_alive() and out == ["action-2"]


def test_close_answers_every_waiting_poll_now() -> None:
    changes = Changes()
    polls = [_poll_in_thread(changes, lambda: None) for _ in range(3)]
    changes.close()
    for thread, out in polls:
        thread.join(60)
        assert not thread.is_alive() and out == [None]


def test_a_poll_whose_client_went_away_claims_nothing() -> None:
    changes, gone, attempts = Changes(), threading.Event(), []

    async def disconnected() -> bool:
        return gone.is_set()

    thread, out = _poll_in_thread(changes, lambda: attempts.append(1), disconnected)
    until_tried = time.monotonic() + 60
    while not attempts and time.monotonic() < until_tried:
        time.sleep(0.01)
    gone.set()
    changes.bump()  # work appears after the client left: the poll wakes, and nobody may take it for the dead client
    thread.join(60)
    assert not thread.is_alive() and out == [None] and attempts == [1]


def test_a_waiting_poll_sleeps_until_a_change() -> None:
    """No timer ticks while nothing changes: the poll's only attempts are the first and one per change."""
    changes, attempts = Changes(), []
    thread, out = _poll_in_thread(changes, lambda: attempts.append(1))
    time.sleep(1.0)
    assert attempts == [1] and thread.is_alive()
    changes.bump()
    until = time.monotonic() + 60
    while len(attempts) < 2 and time.monotonic() < until:
        time.sleep(0.01)
    assert attempts == [1, 1] and thread.is_alive()
    changes.close()
    thread.join(60)
    assert out == [None]


def test_no_wait_is_one_attempt() -> None:
    attempts: list[int] = []
    assert anyio.run(lambda: long_poll(Changes(), lambda: attempts.append(1), 0.0, _connected)) is None
    assert attempts == [1]
