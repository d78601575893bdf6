"""Components of the environment stack that `docker kill` left down, started again; and the watchdog that does it
for the management agent, the healer of everything else.

Docker counts `docker kill` as a manual stop: no restart policy (`always` included, verified on 20.10) brings the
container back. A crash, an OOM kill or a kill -9 of the process is not manual, and the policy restarts those.
A container stopped with `docker stop` or `compose stop` exits by SIGTERM (0 or 143) and is left alone: its user
meant it. One stopped by SIGKILL (137) without OOM is what `docker kill` leaves, and is started again.
"""
from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from bosun_local.contracts import labels
from bosun_local.engine import adapter
from bosun_local.errors import BosunError

log = logging.getLogger(__name__)
KILLED = 137
MANAGEMENT_AGENT = "management-agent"
# The Docker API proxy: the agent reaches the engine through it, so the agent cannot start it again itself.
DOCKER_PROXY = "docker-proxy"
# Seconds the watchdog waits after a death before judging it (Docker's own restart comes first when it applies),
# and between sweeps when no event came (a death missed while the event stream reconnected).
SETTLE_SEC = 2.0
SWEEP_SEC = 60.0


def _down_for(container: adapter.ContainerInfo) -> float:
    """Return the seconds since the container exited (0 when its exit time cannot be read)."""
    try:
        finished = datetime.fromisoformat(container.finished_at[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return 0.0
    return (datetime.now(UTC) - finished).total_seconds()


def killed_components(project: str, components: tuple[str, ...] | None = None) -> list[adapter.ContainerInfo]:
    """Return the project's component containers that `docker kill` left exited (of components, when given).

    Only those down for SETTLE_SEC: a kill -9 that is not `docker kill` is Docker's to restart, and for a moment
    the container looks the same; starting it here too would race Docker's own restart.
    """
    found = adapter.containers_with_labels({labels.COMPOSE_PROJECT: project, labels.COMPONENT: None})
    return [c for c in found if c.status == "exited" and c.exit_code == KILLED and _down_for(c) >= SETTLE_SEC
            and (components is None or c.labels.get(labels.COMPONENT) in components)]


def relaunch_killed(project: str, components: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Start every component `docker kill` left down; return one event (type, status, message, data) for each."""
    events: list[dict[str, Any]] = []
    for container in killed_components(project, components):
        component = container.labels.get(labels.COMPONENT, container.name)
        try:
            adapter.start_container(container.name)
            ok, message = True, (f"{component} ({container.name}) was stopped by `docker kill` (exit code {KILLED}), "
                                 "which no restart policy undoes; started it again")
        except BosunError as exc:
            ok, message = False, f"{component} ({container.name}) is down after `docker kill` and starting it " \
                                 f"failed: {exc.message}"
        log.warning(message) if ok else log.error(message)
        events.append({"type": "component_relaunched" if ok else "component_relaunch_failed",
                       "status": "warning" if ok else "failing", "message": message,
                       "data": {"component": component, "container": container.name}})
    return events


def watch(project: str, components: tuple[str, ...] = (MANAGEMENT_AGENT, DOCKER_PROXY),
          rounds: int | None = None) -> None:
    """Start the project's components again whenever `docker kill` leaves one down; run for `rounds` sweeps or ever."""
    log.info("watchdog of %s: watching %s", project, ", ".join(components))
    done = 0
    while rounds is None or done < rounds:
        try:
            relaunch_killed(project, components)
            # Blocks on Docker's event stream (no polling): wakes at a death, or after SWEEP_SEC for a sweep.
            for died in adapter.container_deaths({labels.COMPOSE_PROJECT: project}, SWEEP_SEC):
                if died.get(labels.COMPONENT) in components and died.get("exitCode") == str(KILLED):
                    time.sleep(SETTLE_SEC + 0.5)
                    relaunch_killed(project, components)
        except BosunError as exc:
            log.warning("watchdog of %s: %s; retrying in %.0f s", project, exc.message, SETTLE_SEC)
            time.sleep(SETTLE_SEC)
        done += 1
