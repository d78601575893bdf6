"""The shared PPS pool on a swarm: one replicated service serving every shared deployment's dir."""
from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any

from bosun_local.contracts import labels
from bosun_local.engine.swarm import STACK_LABEL, SwarmEngine, TaskInfo
from bosun_local.envstack.render import env_file_text, render, write_if_changed
from bosun_local.plugins.pool_dirs import DIR_PREFIX, INFO_FILE, PoolDirs, PoolError
from bosun_local.plugins.swarm.stack import respread, wait_converged

TEMPLATE = "swarm/pool.yaml.j2"
_ensure_lock = threading.Lock()


class SwarmPool(PoolDirs):
    """Stack `<containerNamePrefix>shared-pool`: its stack file, base dir and task status files under `<stacks dir>`."""

    def __init__(self, settings: dict[str, Any], stacks_dir: Path, run_as_user: str,
                 monitoring: dict[str, str] | None, engine: SwarmEngine) -> None:
        super().__init__(settings, stacks_dir, run_as_user, monitoring, "swarm", 64,
                         "set poolReplicas like 2 (one task per node spreads the pool over two nodes)")
        self.status_dir = self.directory / "replicas"
        self.engine = engine

    @property
    def compose_file(self) -> Path:
        return self.directory / "swarm.yaml"

    @property
    def env_file(self) -> Path:
        """Return the 0600 env file holding the pool's broker login (kept out of swarm.yaml)."""
        return self.directory / "pps.env"

    def _dirs(self) -> None:
        """Make the dirs the tasks mount: the base dir readable, the status dir writable by the tasks' user."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir.chmod(0o755)  # the tasks' non-root user lists it
        self.status_dir.mkdir(exist_ok=True)
        uid, _, gid = self.run_as_user.partition(":")
        try:
            os.chown(self.status_dir, int(uid), int(gid or uid))
            self.status_dir.chmod(0o755)
        except (OSError, ValueError):
            # Not root and not that user (a plugin run by hand): the tasks could not write their status otherwise.
            self.status_dir.chmod(0o777)
        self.directory.chmod(0o755)  # the tasks pass through it to both

    def render(self) -> bool:
        """Render the pool's stack file; return True when its bytes changed (the service must be updated)."""
        context = {
            "routerName": self.router, "dockerNetwork": self.network, "ppsBaseImage": self.settings["ppsBaseImage"],
            "runAsUser": self.run_as_user, "baseDir": str(self.base_dir), "statusDir": str(self.status_dir),
            "dirPrefix": DIR_PREFIX, "infoFile": INFO_FILE, "workers": int(self.settings.get("poolWorkers") or 1),
            "memory": str(self.settings.get("poolMemory") or ""), "cpus": self.settings.get("poolCpus") or None,
            "gracefulTimeoutSec": int(self.settings["gracefulTimeoutSec"]),
            "retryAttempts": int(self.settings["retryAttempts"]), "monitoring": self.monitoring,
            "envFile": str(self.env_file), "replicas": self.replicas,
        }
        self._dirs()
        secrets = {"MLOPS_RABBITMQ_QUEUE_URL": self.monitoring["queueUrl"]} if self.monitoring else {}
        env_changed = write_if_changed(self.env_file, env_file_text(secrets, f"shared pool {self.name}", quoted=False))
        return write_if_changed(self.compose_file, render(TEMPLATE, context)) or env_changed

    def service(self) -> dict[str, Any] | None:
        """Return `docker service inspect` of the pool's service, or None when there is none."""
        return self.engine.service({STACK_LABEL: self.name, labels.COMPONENT: labels.PPS_POOL})

    def tasks(self, service: dict[str, Any] | None = None) -> list[TaskInfo]:
        """Return the pool's current tasks (desired running), any state."""
        tasks = self.engine.tasks_of(service if service is not None else self.service())
        return [t for t in tasks if t.desired_state == "running"]

    def running(self) -> list[TaskInfo]:
        """Return the tasks that run and passed their healthcheck."""
        return [t for t in self.tasks() if t.running]

    def ensure(self, timeout: int) -> list[TaskInfo]:
        """Deploy the pool's stack when it is missing or its settings changed; wait until every task runs."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "w") as lock, _ensure_lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            changed = self.render()
            service = self.service()
            if service is None or changed:
                # Its broker user exists, allowed the deployments whose dirs it will load, before a task reports.
                self.broker_allowed().reset(self.deployment_ids())
                self.engine.deploy_stack(self.name, self.compose_file)
            problem = wait_converged(self.name, self.service, self.tasks, self.replicas, float(timeout))
            if not problem:
                respread(self.engine, f"{self.name}_pps", self.tasks, self.replicas, self.engine.nodes(),
                         float(timeout))
                if service is None or changed:
                    self.prune_statuses()
        if problem:
            logs = self.engine.service_logs(f"{self.name}_pps", tail=8).strip()
            raise PoolError(f"the shared PPS pool {self.name} did not become ready on the swarm: {problem}"
                            + (f"\nlast log lines:\n{logs}" if logs else ""),
                            fix=f"`docker stack ps {self.name} --no-trunc` on a manager shows why; set "
                                "keyValueConfig serving: dedicated to serve without the pool")
        return self.running()

    def statuses(self, running: list[TaskInfo] | None = None) -> dict[str, dict[str, Any] | None]:
        """Return each running task's load status (the file it writes after each scan), None when unreadable."""
        docs: dict[str, dict[str, Any] | None] = {}
        for task in self.running() if running is None else running:
            try:
                doc = json.loads((self.status_dir / f"{task.id}.json").read_text())
            except (OSError, ValueError):
                doc = None
            docs[f"task {task.slot} ({task.id[:12]})"] = doc if isinstance(doc, dict) else None
        return docs

    def heal(self) -> list[dict[str, Any]]:
        """Return no events: swarm itself restarts failed tasks and reschedules those of lost nodes."""
        return []

    def prune_statuses(self) -> None:
        """Remove the status files of tasks that are gone."""
        current = {t.id for t in self.tasks()}
        for path in self.status_dir.glob("*.json"):
            if path.stem not in current:
                path.unlink(missing_ok=True)

    def down(self, timeout: float) -> bool:
        """Remove the pool's stack (its deployment dirs stay); return False when there was none."""
        if self.service() is None:
            return False
        self.engine.remove_stack(self.name, wait_sec=timeout)
        return True
