"""Liveness files: long-running agents touch one each loop; the container healthcheck reads its age."""
from __future__ import annotations

import os
import time
from pathlib import Path

ALIVE_FILE_ENV = "BOSUN_ALIVE_FILE"
_last_touch = 0.0


def mark_alive(min_interval: float = 2.0) -> None:
    """Touch $BOSUN_ALIVE_FILE (at most every min_interval seconds); a no-op when it is unset."""
    global _last_touch
    path = os.environ.get(ALIVE_FILE_ENV)
    now = time.monotonic()
    if not path or now - _last_touch < min_interval:
        return
    _last_touch = now
    Path(path).touch()


def healthcheck_test(path: str, max_age_sec: int) -> list[str]:
    """Return a compose healthcheck test that fails when the liveness file is missing or stale."""
    # find + bash cost a few ms (a Python start costs ~50), so the check can run every second.
    return ["CMD", "bash", "-c", f'test -n "$(find {path} -newermt "-{max_age_sec} seconds" 2>/dev/null)"']
