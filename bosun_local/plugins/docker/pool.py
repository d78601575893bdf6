"""The shared PPS pool of one environment: its Compose project, its deployment dirs and its replicas' load status."""
from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bosun_local.contracts import labels
from bosun_local.engine import adapter
from bosun_local.envstack.render import env_file_text, render, write_if_changed
from bosun_local.errors import BosunError
from bosun_local.plugins.docker.broker_users import PoolAllowList
from bosun_local.plugins.framework.atomic_fs import TMP_PREFIX, exchange_paths, remove_dir, tmp_sibling

TEMPLATE = "deployment/pool.yaml.j2"
POOL_NAME = "shared-pool"
DIR_PREFIX = "deployment_"
INFO_FILE = "config.yml"
PORT = 8080
# Concurrent actions (20 deploys at once) share one /status read per replica within this age.
STATUS_MAX_AGE_SEC = 0.04
POLL_SEC = 0.03

_status_lock = threading.Lock()
_ensure_lock = threading.Lock()
_status_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
_http = httpx.Client(timeout=5.0)


def pool_name(settings: dict[str, Any]) -> str:
    """Return the Compose project (and broker user suffix) of an environment's shared pool."""
    return f"{settings['containerNamePrefix']}{POOL_NAME}"


class PoolError(BosunError):
    """The shared pool cannot run or cannot take a deployment."""


@dataclass(frozen=True)
class Installed:
    """A deployment dir put in place: its path, the inode replicas report for it, and the previous content."""

    target: Path
    inode: int
    previous: Path | None


def _link_or_copy(src: str, dst: str) -> str:
    """Hard-link a package file (same filesystem: instant, no extra space), else copy it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _entry_inode(base: Path, name: str) -> int:
    """Return the inode of a base dir entry as readdir reports it (what the pool's scanner compares)."""
    for entry in os.scandir(base):
        if entry.name == name:
            return entry.inode()
    raise FileNotFoundError(errno.ENOENT, "deployment dir vanished", str(base / name))


def replica_status(container: adapter.ContainerInfo, network: str) -> dict[str, Any] | None:
    """Return a replica's GET /status document (cached for a few ms), None when it does not answer."""
    address = container.addresses.get(network)
    if not address:
        return None
    url = f"http://{address}:{PORT}/status"
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


class SharedPool:
    """Compose project `<containerNamePrefix>shared-pool` and its base dir `<stacks dir>/<project>/deployments`."""

    def __init__(self, settings: dict[str, Any], stacks_dir: Path, run_as_user: str,
                 monitoring: dict[str, str] | None) -> None:
        self.settings = settings
        self.name = pool_name(settings)
        self.directory = stacks_dir / self.name
        self.base_dir = self.directory / "deployments"
        self.router = re.sub(r"[^a-z0-9-]", "-", self.name.lower())
        self.network = str(settings["dockerNetwork"])
        self.run_as_user = run_as_user
        self.monitoring = monitoring
        replicas = settings.get("poolReplicas", 2)
        try:
            self.replicas = int(replicas)
        except (TypeError, ValueError):
            self.replicas = 0
        if not 1 <= self.replicas <= 16:
            raise PoolError(f"pluginConfig.poolReplicas={replicas!r} of the docker plugin is not a whole number "
                            "from 1 to 16", fix="set poolReplicas like 2 (two replicas: one may die unnoticed)")

    @property
    def compose_file(self) -> Path:
        return self.directory / "compose.yaml"

    @property
    def env_file(self) -> Path:
        """Return the 0600 env file holding the pool's broker login (kept out of compose.yaml)."""
        return self.directory / "pps.env"

    def broker_allowed(self) -> PoolAllowList:
        """Return the list of deployments the pool's broker user may publish for."""
        return PoolAllowList(self.settings, self.name, self.directory)

    def container_name(self, index: int) -> str:
        return f"{self.name}-{index}"

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
            "envFile": str(self.env_file),
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

    # -- deployment dirs -------------------------------------------------------------------------------------

    def deployment_dir(self, deployment_id: str) -> Path:
        return self.base_dir / f"{DIR_PREFIX}{deployment_id}"

    def has(self, deployment_id: str) -> bool:
        return self.deployment_dir(deployment_id).is_dir()

    def deployment_ids(self) -> list[str]:
        """Return the ids of every deployment dir in the pool."""
        if not self.base_dir.is_dir():
            return []
        return sorted(p.name[len(DIR_PREFIX):] for p in self.base_dir.iterdir()
                      if p.name.startswith(DIR_PREFIX) and p.is_dir())

    def installed_model(self, deployment_id: str) -> str | None:
        """Return the model id the deployment's dir names, None when there is no readable dir."""
        try:
            doc = yaml.safe_load((self.deployment_dir(deployment_id) / INFO_FILE).read_text())
        except (OSError, yaml.YAMLError):
            return None
        return str(doc.get("model_id")) if isinstance(doc, dict) and doc.get("model_id") else None

    def install(self, deployment_id: str, model_id: str, artifact: Path) -> Installed:
        """Write the deployment's dir aside and swap it in; the previous content is kept aside for a rollback."""
        target = self.deployment_dir(deployment_id)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        new = tmp_sibling(target)
        try:
            if artifact.is_dir():
                shutil.copytree(artifact, new, symlinks=False, copy_function=_link_or_copy)
            else:
                new.mkdir()
                _link_or_copy(str(artifact), str(new / artifact.name))
            info = new / INFO_FILE
            info.unlink(missing_ok=True)  # a hard link to the package's own file: never write through it
            info.write_text(yaml.safe_dump({"deployment_id": deployment_id, "model_id": model_id}))
            new.chmod(0o755)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        previous: Path | None = None
        try:
            os.rename(new, target)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                shutil.rmtree(new, ignore_errors=True)
                raise
            if exchange_paths(new, target):
                previous = new  # now holds the old content
            else:  # no RENAME_EXCHANGE here: the dir is absent for an instant (the pool's scanner waits 2 scans)
                previous = tmp_sibling(target, "old-")
                os.rename(target, previous)
                os.rename(new, target)
        return Installed(target, _entry_inode(self.base_dir, target.name), previous)

    def roll_back(self, installed: Installed) -> None:
        """Put the previous content back (after a failed load); remove the dir when there was none."""
        if installed.previous is None:
            remove_dir(installed.target)
            return
        if not exchange_paths(installed.previous, installed.target):
            failed = tmp_sibling(installed.target, "failed-")
            os.rename(installed.target, failed)
            os.rename(installed.previous, installed.target)
            shutil.rmtree(failed, ignore_errors=True)
            return
        shutil.rmtree(installed.previous, ignore_errors=True)

    @staticmethod
    def commit(installed: Installed) -> None:
        """Drop the previous content kept for a rollback."""
        if installed.previous is not None:
            shutil.rmtree(installed.previous, ignore_errors=True)

    def remove(self, deployment_id: str) -> bool:
        """Remove the deployment's dir; False when it had none."""
        return remove_dir(self.deployment_dir(deployment_id))

    def remove_stale(self) -> None:
        """Remove work in progress left by an interrupted action."""
        if self.base_dir.is_dir():
            for entry in self.base_dir.glob(f"{TMP_PREFIX}*"):
                shutil.rmtree(entry, ignore_errors=True)

    # -- replicas' view --------------------------------------------------------------------------------------

    def statuses(self, running: list[adapter.ContainerInfo] | None = None) -> dict[str, dict[str, Any] | None]:
        """Return each running replica's /status document (None for one that does not answer)."""
        return {c.name: replica_status(c, self.network) for c in (self.running() if running is None else running)}

    def wait_loaded(self, deployment_id: str, model_id: str, inode: int, timeout: float,
                    running: list[adapter.ContainerInfo] | None = None) -> str | None:
        """Wait until every answering replica serves this dir's model; return the load error or why not."""
        deadline = time.monotonic() + timeout
        running = self.running() if running is None else running
        if not running:
            return f"the shared PPS pool {self.name} has no running replica"
        pending: list[str] = []
        while time.monotonic() < deadline:
            pending = []
            starting = {c.name for c in running if c.health == "starting"}
            for name, doc in self.statuses(running).items():
                if doc is None:
                    if name not in starting:  # routed but slow to answer: wait for it
                        pending.append(name)
                    continue  # not listening yet: its first scan will find the dir
                entry = (doc.get("deployments") or {}).get(deployment_id)
                if not entry or entry.get("inode") != inode:
                    pending.append(name)
                elif entry.get("error") and entry.get("attemptedModelId") == model_id:
                    return f"model {model_id} does not load in the shared pool ({name}): {entry['error']}"
                elif entry.get("modelId") != model_id:
                    pending.append(name)
            if not pending:
                return None
            time.sleep(POLL_SEC)
        return f"pool replicas {', '.join(pending)} did not load model {model_id} within {timeout:g} s"

    def wait_gone(self, deployment_id: str, timeout: float) -> None:
        """Wait (bounded) until no replica serves the deployment any more."""
        deadline = time.monotonic() + timeout
        running = self.running()
        while time.monotonic() < deadline:
            if not any(deployment_id in ((doc or {}).get("deployments") or {})
                       for doc in self.statuses(running).values()):
                return
            time.sleep(POLL_SEC)

    def heal(self) -> list[dict[str, Any]]:
        """Relaunch dead or unhealthy replicas (Docker restarts neither); return an event for each."""
        if not self.compose_file.exists():
            return []
        events: list[dict[str, Any]] = []
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
