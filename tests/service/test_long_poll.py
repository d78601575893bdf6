"""Long polls in the service: a waiting claim wakes on a change, misses none, and answers at once on stop."""
from __future__ import annotations

import threading
from typing import Any

from bosun_local.service.long_poll import Changes, long_poll

# Far longer than any test waits: only a wake-up (never the recheck or the deadline) can end these polls.
NEVER = 600.0


def _poll_in_thread(changes: Changes, attempt: Any) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(long_poll(changes, attempt, NEVER, recheck_sec=NEVER)),
                              daemon=True)
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
    assert long_poll(changes, lambda: None, NEVER) is None  # after the stop nothing waits


def test_no_wait_is_one_attempt() -> None:
    attempts: list[int] = []
    assert long_poll(Changes(), lambda: attempts.append(1), 0.0) is None and attempts == [1]
