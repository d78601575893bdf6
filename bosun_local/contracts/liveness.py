"""Liveness files: long-running agents write the time into one each loop; the container healthcheck reads it."""
from __future__ import annotations

import os
import time
from pathlib import Path

ALIVE_FILE_ENV = "BOSUN_ALIVE_FILE"
# Keyed by file: two agents in one process (tests, the CLI's in-process runs) must not share a verdict.
_last_touch: dict[str, float] = {}
_unwell: dict[str, str] = {}


def mark_alive(min_interval: float = 2.0) -> None:
    """Write the epoch second to $BOSUN_ALIVE_FILE (at most every min_interval seconds); a no-op when unset or
    while unwell."""
    path = os.environ.get(ALIVE_FILE_ENV)
    if not path or path in _unwell:
        return
    now = time.monotonic()
    if now - _last_touch.get(path, float("-inf")) < min_interval:
        return
    _last_touch[path] = now
    # Written aside and renamed: the probe never reads a half-written number.
    aside = Path(f"{path}.{os.getpid()}.tmp")
    aside.write_text(f"{int(time.time())}\n")
    os.replace(aside, path)


def mark_unwell(reason: str | None) -> None:
    """Fail the healthcheck at once while reason is set (the process runs but cannot do its job); None clears it."""
    path = os.environ.get(ALIVE_FILE_ENV)
    if not path:
        return
    why = Path(path + ".why")
    if reason is None:
        _unwell.pop(path, None)
        why.unlink(missing_ok=True)
        _last_touch.pop(path, None)
        mark_alive()
        return
    _unwell[path] = reason
    # The healthcheck fails on a missing file: removing it turns the container unhealthy within its retries,
    # not after the max age; the reason stays beside it for `docker inspect` and whoever looks.
    why.write_text(reason + "\n")
    Path(path).unlink(missing_ok=True)


def healthcheck_test(path: str, max_age_sec: int) -> list[str]:
    """Return a compose healthcheck test that fails when the liveness file is missing or stale."""
    # Bash builtins only (read, printf's %(%s)T clock, arithmetic): one process per probe, where the find in a
    # command substitution it replaces started three, every second, in each agent's container.
    return ["CMD", "bash", "-c", f"read -r t < {path} && printf -v now '%(%s)T' -1 && (( now - t < {max_age_sec} ))"]
