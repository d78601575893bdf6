"""The shared PPS pool of one environment: its Compose project, its deployment dirs and its replicas' load status."""
from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bosun_local.contracts import labels
from bosun_local.engine import adapter
from bosun_local.envstack.render import env_file_text, render, write_if_changed
from bosun_local.errors import BosunError
from bosun_local.plugins.docker.stack import PPS_PORT, drain_containers, pps_host, pps_probe_values
from bosun_local.plugins.pool_dirs import (
    DIR_PREFIX,
    INFO_FILE,
    Installed,
    PoolDirs,
    PoolError,
    pool_name,
)

__all__ = ["DIR_PREFIX", "INFO_FILE", "Installed", "PoolError", "SharedPool", "pool_name", "replica_status"]

TEMPLATE = "deployment/pool.yaml.j2"
# Concurrent actions (20 deploys at once) share one /status read per replica within this age.
STATUS_MAX_AGE_SEC = 0.04

_status_lock = threading.Lock()
_ensure_lock = threading.Lock()
_status_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
_http = httpx.Client(timeout=5.0)


def replica_status(container: adapter.ContainerInfo, network: str) -> dict[str, Any] | None:
    """Return a replica's GET /status document (cached for a few ms), None when it does not answer."""
    address = container.addresses.get(network)
    if not address:
        return None
    url = f"http://{address}:{PPS_PORT}/status"
    now = time.monotonic()
    with _status_lock:
        cached = _status_cache.get(url)
        if cached is not None and now - cached[0] < STATUS_MAX_AGE_SEC:
            return cached[1]
    try:
        response = _http.get(url)
        doc: dict[str, Any] | None = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        doc = None
    with _status_lock:
        _status_cache[url] = (time.monotonic(), doc)
    return doc


class SharedPool(PoolDirs):
    """Compose project `<containerNamePrefix>shared-pool` and its base dir `<stacks dir>/<project>/deployments`."""

    def __init__(self, settings: dict[str, Any], stacks_dir: Path, run_as_user: str,
                 monitoring: dict[str, str] | None) -> None:
        super().__init__(settings, stacks_dir, run_as_user, monitoring, "docker", 16,
                         "set poolReplicas like 2 (two replicas: one may die unnoticed)")
        # Set by the docker plugin: wait until traefik answers from none of these hosts (/info's host); a note if not.
        self.unrouted: Callable[[set[str]], str | None] | None = None

    @property
    def compose_file(self) -> Path:
        return self.directory / "compose.yaml"

    @property
    def env_file(self) -> Path:
        """Return the 0600 env file holding the pool's broker login (kept out of compose.yaml)."""
        return self.directory / "pps.env"

    def container_name(self, index: int) -> str:
        return f"{self.name}-{index}"

    def index(self, container: adapter.ContainerInfo) -> int:
        """Return a replica container's number (0 for a name that is not one of ours)."""
        tail = container.name.removeprefix(f"{self.name}-")
        return int(tail) if tail.isdigit() else 0

    @property
    def applied_file(self) -> Path:
        """Return the file holding the replica count last applied (so a changed poolReplicas is told from a death)."""
        return self.directory / "replicas.applied"

    def applied(self, present: list[adapter.ContainerInfo]) -> int:
        try:
            return int(self.applied_file.read_text().strip())
        except (OSError, ValueError):
            return len(present)  # a pool started before the count was recorded

    def rescale(self) -> list[dict[str, Any]]:
        """Follow a changed poolReplicas without dropping requests: start new replicas, drain then stop extra ones."""
        present = self.containers()
        before = self.applied(present)
        extra = [c for c in present if self.index(c) > self.replicas]
        events: list[dict[str, Any]] = []
        if extra:
            running = [c for c in extra if c.status == "running"]
            drain_containers({c.name for c in running}, self.containers, 15.0)  # unhealthy: traefik drops them
            late = self.unrouted({pps_host(c) for c in running}) if self.unrouted and running else None
            adapter.remove_containers([c.name for c in extra], timeout=int(self.settings["gracefulTimeoutSec"]))
            self.render()
            events.append(_scaled(self.name, max(before, len(present)), self.replicas, [c.name for c in extra], late))
        elif self.replicas > before:
            names = {c.name for c in present}
            missing = [i for i in range(1, self.replicas + 1) if self.container_name(i) not in names]
            self.render()
            if missing:
                # No wait: a new replica joins traefik's rotation once its healthcheck passes (all dirs loaded).
                self.project().up(wait=False, services=[f"pool-{i}" for i in missing])
            events.append(_scaled(self.name, before, self.replicas, [self.container_name(i) for i in missing], None))
        if before != self.replicas or not self.applied_file.exists():
            self.applied_file.write_text(f"{self.replicas}\n")
        return events

    def render(self) -> Path:
        """Render the pool's compose file; unchanged bytes are not rewritten."""
        context = {
            "projectName": self.name, "routerName": self.router, "dockerNetwork": self.network,
            "ppsBaseImage": self.settings["ppsBaseImage"], "runAsUser": self.run_as_user,
            "baseDir": str(self.base_dir), "dirPrefix": DIR_PREFIX, "infoFile": INFO_FILE,
            "workers": int(self.settings.get("poolWorkers") or 1),
            "memory": str(self.settings.get("poolMemory") or ""), "cpus": self.settings.get("poolCpus") or None,
            "gracefulTimeoutSec": int(self.settings["gracefulTimeoutSec"]),
            "retryAttempts": int(self.settings["retryAttempts"]), "monitoring": self.monitoring,
            "envFile": str(self.env_file), **pps_probe_values(self.settings),
            "replicas": [{"service": f"pool-{i}", "containerName": self.container_name(i)}
                         for i in range(1, self.replicas + 1)],
        }
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir.chmod(0o755)  # the replicas' non-root user lists it
        secrets = {"MLOPS_RABBITMQ_QUEUE_URL": self.monitoring["queueUrl"]} if self.monitoring else {}
        write_if_changed(self.env_file, env_file_text(secrets, f"shared pool {self.name}"))
        write_if_changed(self.compose_file, render(TEMPLATE, context))
        return self.compose_file

    def project(self) -> adapter.ComposeProject:
        return adapter.ComposeProject(self.name, self.compose_file)

    def containers(self) -> list[adapter.ContainerInfo]:
        """Return the pool's replica containers (any state)."""
        return adapter.containers_with_labels({labels.COMPONENT: labels.PPS_POOL, labels.NETWORK: self.network})

    def running(self) -> list[adapter.ContainerInfo]:
        return [c for c in self.containers() if c.status == "running"]

    def ensure(self, timeout: int) -> list[adapter.ContainerInfo]:
        """Run every replica and wait until they are healthy (a no-op when they already are); return them."""
        wanted = {self.container_name(i) for i in range(1, self.replicas + 1)}
        found = self.containers()  # one read, reused by the caller: each engine call costs 0.1-0.5 s under load
        if wanted <= {c.name for c in found if c.healthy} and self.compose_file.exists():
            return [c for c in found if c.status == "running"]
        # Concurrent deploys (threads of one agent, or agents) start the pool once: compose runs under a lock.
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "w") as lock, _ensure_lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not wanted <= {c.name for c in self.containers() if c.healthy}:
                self._up(wanted, timeout)
        return self.running()

    def _up(self, wanted: set[str], timeout: int) -> None:
        self.render()
        # Its broker user exists, allowed the deployments whose dirs it will load, before a replica reports.
        self.broker_allowed().reset(self.deployment_ids())
        try:
            self.project().up(wait=True, timeout=timeout)
        except BosunError as exc:
            logs = "\n".join(f"{name}: {adapter.container_logs(name, tail=8).strip()}" for name in sorted(wanted))
            raise PoolError(f"the shared PPS pool {self.name} did not become healthy: {exc.message}\n{logs}",
                            fix=f"`docker compose -p {self.name} logs` shows why; set servingMode: dedicated "
                                "to serve without the pool") from exc

    def down(self) -> None:
        """Remove the pool's containers (its deployment dirs stay)."""
        if self.compose_file.exists():
            self.project().down(timeout=int(self.settings["gracefulTimeoutSec"]))

    # -- replicas' view --------------------------------------------------------------------------------------

    def statuses(self, running: list[adapter.ContainerInfo] | None = None) -> dict[str, dict[str, Any] | None]:
        """Return each running replica's /status document (None for one that does not answer)."""
        return {c.name: replica_status(c, self.network) for c in (self.running() if running is None else running)}

    def starting(self, running: list[adapter.ContainerInfo]) -> set[str]:
        """Return the replicas whose healthcheck has not passed yet (not listening: their first scan finds dirs)."""
        return {c.name for c in running if c.health == "starting"}

    def heal(self) -> list[dict[str, Any]]:
        """Follow poolReplicas, relaunch dead or unhealthy replicas (Docker restarts neither); return an event each."""
        if not self.compose_file.exists():
            return []
        try:
            events = self.rescale()
        except BosunError as exc:
            events = [{"type": "pool_scale_failed", "status": "failing", "data": {"replicas": self.replicas},
                       "message": f"shared PPS pool {self.name}: scaling to {self.replicas} replicas failed: "
                                  f"{exc.message}"}]
        present = {c.name: c for c in self.containers()}
        for i in range(1, self.replicas + 1):
            name = self.container_name(i)
            c = present.get(name)
            if c is not None and (c.healthy or (c.status == "running" and c.health == "starting")):
                continue
            what = "missing" if c is None else (f"{c.status} (exit code {c.exit_code})" if c.status != "running"
                                                 else f"{c.health}")
            try:
                if c is None:
                    self.render()
                    self.project().up(wait=False, services=[f"pool-{i}"])
                else:
                    adapter.restart_container(name, timeout=2)
                ok, detail = True, f"shared PPS pool replica {name} was {what}; relaunched it"
            except BosunError as exc:
                ok, detail = False, f"shared PPS pool replica {name} is {what} and relaunching failed: {exc.message}"
            events.append({"type": "pool_replica_relaunched" if ok else "pool_replica_relaunch_failed",
                           "status": "warning" if ok else "failing", "message": detail,
                           "data": {"container": name, "was": what}})
        return events


def _scaled(pool: str, before: int, after: int, names: list[str], late: str | None) -> dict[str, Any]:
    """Return the event of a pool scaled to a changed poolReplicas."""
    how = (f"drained and stopped {', '.join(names)}" if after < before
           else f"started {', '.join(names)} (they serve once healthy)" if names
           else "a deploy had already started them")
    return {"type": "pool_scaled", "status": "info", "data": {"replicas": after, "previous": before,
                                                               "containers": names, "late": late},
            "message": f"shared PPS pool {pool} scaled {before} -> {after} replicas (poolReplicas): {how}"
                       + (f"; {late}" if late else "")}
