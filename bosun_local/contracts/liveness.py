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


# What a prediction server's probe reads: /tmp is the container's tmpfs, the drain file is written by the docker
# plugin before a blue/green switch or a scale-down stops the container (docker_proxy/rules.py allows that exec).
DRAIN_FILE = "/tmp/drain"
PROBE_STATE_FILE = "/tmp/probe-state"
# Longest a prediction server's first probe keeps asking before it counts as failed (most start in 1-3 s).
FIRST_WAIT_SEC = 20


def http_probe_test(port: int, steady_sec: int, first_wait_sec: int = FIRST_WAIT_SEC) -> list[str]:
    """Return a compose healthcheck test of GET /health that passes as soon as healthy, then probes every steady_sec.

    Docker 20.10 has no start_interval: a probe interval short enough for traefik to route a new container
    soon (0.5 s) costs an exec twice a second forever, ~5.5 % of a core per idle container. So a probe that
    passed leaves a mark, and the next one waits steady_sec on an idle connection (bash builtins: no process)
    before asking; it still fails within a second of a drain file appearing. A failed probe clears the mark:
    back to one quick try per probe. Until the first pass (no mark at all) a probe keeps asking every 0.1 s for
    up to first_wait_sec, so Docker calls a new server healthy within ~0.1 s of its first answer instead of at
    the next probe. Docker's timeout must exceed steady_sec, and first_wait_sec, plus the 3 s a request may
    take. No `$` in it: compose would read one as a variable (bash reads SECONDS without one in `(( ))`).
    """
    wait = min(first_wait_sec, steady_sec)
    script = (
        f"[ -e {DRAIN_FILE} ] && exit 1; "
        f"if [ -s {PROBE_STATE_FILE} ] && exec 4<>/dev/tcp/127.0.0.1/{port}; then "
        f"for ((i = 0; i < {steady_sec}; i++)); do [ -e {DRAIN_FILE} ] && exit 1; "
        "read -t 1 -u 4 && break; done; exec 4<&-; fi; "
        "while :; do "
        f"if exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 "
        "&& read -t 3 -u 3 proto code rest && (( code == 200 )); then "
        f"echo ok > {PROBE_STATE_FILE}; exit 0; fi; "
        f"if [ -e {PROBE_STATE_FILE} ] || [ -e {DRAIN_FILE} ] || (( SECONDS >= {wait} )); then break; fi; "
        "exec 3<&-; sleep 0.1; done 2>/dev/null; "
        f": > {PROBE_STATE_FILE}; exit 1"
    )
    return ["CMD", "bash", "-c", script]
