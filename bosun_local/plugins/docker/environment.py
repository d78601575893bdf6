"""The docker plugin's view of the environment stack: traefik, RabbitMQ, and the stack's monitoring agents."""
from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import httpx

from bosun_local.contracts import labels
from bosun_local.contracts.rabbitmq import masked_url
from bosun_local.contracts.states import ActionStatus
from bosun_local.engine import adapter
from bosun_local.envstack.healing import relaunch_killed
from bosun_local.errors import BosunError
from bosun_local.plugins.framework.action_status import ActionStatusInfo
from bosun_local.spool.rabbitmq.reader import queue_stats

Component = dict[str, Any]
# Seconds between looks for components `docker kill` left down (two engine calls; pe_status runs every 2 s).
COMPONENTS_EVERY_SEC = 10.0
_components_checked: dict[str, float] = {}


@functools.cache
def _probe_client() -> httpx.Client:
    # One client for every check: a new one loads the CA bundle (~10 ms of CPU) even for plain http.
    return httpx.Client(timeout=2.0)


def traefik_problem(url: str) -> str | None:
    """Return why traefik does not answer on url, or None when it does (any HTTP answer, 404 too)."""
    try:
        _probe_client().get(f"{url}/")
    except httpx.HTTPError as exc:
        return f"traefik does not answer on {url}: {type(exc).__name__}: {exc}"
    return None


def traefik_component(url: str, problem: str | None) -> Component:
    """Return traefik's entry of pe_status `components`."""
    if problem:
        return {"status": ActionStatus.ERROR, "detail": problem}
    return {"status": ActionStatus.OK, "detail": f"answers on {url}"}


def rabbitmq_problem(project: str) -> str | None:
    """Return why the stack's RabbitMQ container is not usable, or None when it is healthy."""
    found = adapter.containers_with_labels({labels.COMPONENT: labels.RABBITMQ, labels.COMPOSE_PROJECT: project})
    if not found:
        return f"monitoring is on but the environment stack {project!r} runs no RabbitMQ"
    # 'starting' is a running broker Docker has not probed yet (its probes are envProbeIntervalSec apart).
    if found[0].status != "running" or found[0].health == "unhealthy":
        return f"RabbitMQ ({found[0].name}) is {found[0].status}/{found[0].health}"
    return None


def rabbitmq_component(stats_url: str, queue: str, problem: str | None) -> Component:
    """Return RabbitMQ's entry of pe_status `components`: the spool queue's depth and consumers when readable."""
    if not stats_url:
        # Nobody told the plugin how to reach the broker: report what the container check saw.
        return {"status": ActionStatus.WARN if problem else ActionStatus.OK, "detail": problem or "container healthy"}
    try:
        stats = queue_stats(stats_url, queue, keep=True)
    except BosunError as exc:
        return {"status": ActionStatus.ERROR, "detail": exc.message}
    except OSError as exc:
        return {"status": ActionStatus.ERROR, "detail": f"cannot reach {masked_url(stats_url)}: {exc!r}"}
    return {"status": ActionStatus.OK if stats.consumers else ActionStatus.WARN,
            "detail": f"queue {queue}: {stats.depth} ready, {stats.consumers} consumer(s)",
            "queueDepth": stats.depth, "consumers": stats.consumers}


def monitoring_agents(project: str) -> list[adapter.ContainerInfo]:
    """Return the running monitoring-agent containers of the environment stack's Compose project."""
    found = adapter.containers_with_labels({labels.COMPONENT: labels.MONITORING_AGENT,
                                            labels.COMPOSE_PROJECT: project})
    return [c for c in found if c.status == "running"]


def scale_monitoring_agents(project: str, running: list[adapter.ContainerInfo], replicas: int) -> None:
    """Run `replicas` monitoring agents in the project `bosun-local up` started (its compose file is on its labels)."""
    files = running[0].labels.get(labels.COMPOSE_CONFIG_FILES, "")
    compose_file = Path(files.split(",")[0]) if files else None
    if compose_file is None or not compose_file.exists():
        raise BosunError(f"cannot scale the monitoring agents of {project!r}: their compose file "
                         f"{compose_file or '(no label)'} is not readable here",
                         fix="run the management agent where the data dir is mounted at its host path")
    service = running[0].labels.get(labels.COMPOSE_SERVICE, labels.MONITORING_AGENT)
    adapter.ComposeProject(project, compose_file).scale(service, replicas)


def relaunch_killed_components(project: str, dry_run: bool = False) -> list[dict[str, Any]]:
    """Start the stack's components `docker kill` left down (its watchdog too), every COMPONENTS_EVERY_SEC."""
    if dry_run or time.monotonic() - _components_checked.get(project, float("-inf")) < COMPONENTS_EVERY_SEC:
        return []
    _components_checked[project] = time.monotonic()
    try:
        return relaunch_killed(project)
    except BosunError as exc:
        return [{"type": "component_relaunch_failed", "status": "failing", "message": exc.message}]


def monitoring_scale(project: str, replicas: int | None, dry_run: bool) -> ActionStatusInfo:
    """Report the stack's running monitoring agents; scale them to `replicas` first when given."""
    running = monitoring_agents(project)
    if not running:
        # Only what `bosun-local up` started is scaled: beside a partial stack the agent adds no agents.
        return ActionStatusInfo(ActionStatus.OK, data={"replicas": None},
                                msg=f"the environment stack {project!r} runs no monitoring agents to scale")
    if replicas is None or replicas == len(running):
        return ActionStatusInfo(ActionStatus.OK, data={"replicas": len(running)},
                                msg=f"{len(running)} monitoring agents run in {project!r}")
    if dry_run:
        return ActionStatusInfo(ActionStatus.OK, data={"replicas": len(running)},
                                msg=f"dry run: would scale the monitoring agents {len(running)} -> {replicas}")
    try:
        scale_monitoring_agents(project, running, replicas)
    except BosunError as exc:
        return ActionStatusInfo(ActionStatus.ERROR, data={"replicas": len(running)},
                                msg=exc.one_line())
    return ActionStatusInfo(ActionStatus.OK, data={"replicas": replicas, "previous": len(running)},
                            msg=f"monitoring agents of {project!r} scaled {len(running)} -> {replicas}")
