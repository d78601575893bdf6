"""One deployment as a swarm stack: names, pure rendering to disk, deploy/remove, and reading its tasks back."""
from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bosun_local.contracts import labels
from bosun_local.engine.swarm import STACK_LABEL, NodeInfo, SwarmEngine, TaskInfo
from bosun_local.envstack.render import env_file_text, render, write_if_changed
from bosun_local.errors import BosunError
from bosun_local.plugins.deployment_values import deployment_values
from bosun_local.plugins.docker.stack import DeploymentConfigError, ModelService, check_id

TEMPLATE = "swarm/deployment.yaml.j2"
EDGE_TEMPLATE = "swarm/traefik.yaml.j2"
# Update states swarm reports while it rolls a service back to its previous spec (the new model failed).
ROLLBACK = ("rollback_started", "rollback_paused", "rollback_completed")


def replicas_of(kv: dict[str, Any], default: int, deployment_id: str) -> int:
    """Return the deployment's replicas: keyValueConfig `replicas`, else the plugin's ppsReplicas."""
    raw = kv.get("replicas", default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 64:
        raise DeploymentConfigError(f"deployment {deployment_id}: replicas={raw!r} is not a whole number from 1 to 64",
                                    fix="set keyValueConfig replicas (or the swarm plugin's ppsReplicas) like 2")
    return value


def task_broker_url(network_url: str, address: str) -> str:
    """Return the AMQP URL swarm tasks report with: the network URL, its host:port replaced by `address` if set."""
    if not address:
        return network_url
    host, _, port = address.strip().partition(":")
    port = port or "5672"
    if not host or not port.isdigit() or "/" in address or "@" in address:
        raise BosunError(f"pluginConfig.swarmRabbitmqAddress={address!r} of the swarm plugin is not host:port",
                         fix="set it to the address tasks on every node reach the broker at, like 10.0.0.5:5672")
    parts = urlsplit(network_url)
    login = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{login}@{host}:{port}" if login else f"{host}:{port}"))


def placement(tasks: list[TaskInfo], nodes: list[NodeInfo]) -> list[dict[str, Any]]:
    """Return each current task (desired running) with the node it runs on, for status data and pe_status.

    A lost node's tasks keep their last state (running) forever; only their desired state (shutdown) says they are gone.
    """
    hostnames = {n.id: n.hostname for n in nodes}
    return [{"task": t.id[:12], "slot": t.slot, "node": hostnames.get(t.node_id, t.node_id[:12] or None),
             "state": t.state, "desiredState": t.desired_state, "modelId": t.env.get("MLOPS_MODEL_ID"),
             "error": t.error or None} for t in tasks if t.desired_state == "running"]


def crowded(tasks: list[TaskInfo], nodes: list[NodeInfo], replicas: int) -> bool:
    """Return True when the running tasks sit on fewer nodes than they could (ready, active nodes; one per task)."""
    usable = {n.id for n in nodes if n.state == "ready" and n.availability == "active"}
    used = {t.node_id for t in tasks if t.running}
    return len(used) < min(replicas, len(usable))


def respread(engine: SwarmEngine, service: str, tasks: Callable[[], list[TaskInfo]], replicas: int,
             nodes: list[NodeInfo], timeout: float) -> str | None:
    """Spread a service's tasks over the nodes again; return what was done, or None when they were spread.

    A start-first update places each new task while the old one of its slot still counts on its node, so ties can
    put every task on one node; losing that node then leaves the service no task, traefik drops its router, and the
    path answers 404 (the pool's or traefik's) until swarm has rescheduled. One more task goes to the emptiest node,
    and scaling back removes one from the node holding most (swarmkit's scale-down order).
    """
    if not crowded(tasks(), nodes, replicas):
        return None
    for target in (replicas + 1, replicas):
        engine.scale(service, target)
        deadline = time.monotonic() + timeout
        while sum(t.running for t in tasks()) != target and time.monotonic() < deadline:
            time.sleep(0.5)
    where = sorted({t.node_id[:12] for t in tasks() if t.running})
    return f"respread {service}: its tasks now run on {len(where)} nodes"


def serving_nodes(placed: list[dict[str, Any]]) -> str:
    """Return the nodes that run a task of the placement (`placement()`), sorted, comma-separated."""
    return ", ".join(sorted({str(p["node"]) for p in placed if p["state"] == "running"}))


class SwarmDeployment:
    """The stack `<containerNamePrefix><deployment id>` on the swarm, rendered to `<stacks dir>/<name>/swarm.yaml`."""

    def __init__(self, deployment_id: str, settings: dict[str, Any], stacks_dir: Path, run_as_user: str,
                 monitoring: dict[str, str] | None, engine: SwarmEngine) -> None:
        self.deployment_id = check_id(deployment_id, "deployment id")
        self.settings = settings
        self.name = f"{settings['containerNamePrefix']}{deployment_id}"
        self.directory = stacks_dir / self.name
        self.run_as_user = run_as_user
        self.monitoring = monitoring
        self.engine = engine

    @property
    def compose_file(self) -> Path:
        return self.directory / "swarm.yaml"

    @property
    def env_file(self) -> Path:
        return self.directory / "pps.env"

    def render(self, model: ModelService, replicas: int) -> Path:
        """Render the stack file for this model (pure: same inputs, same bytes; unchanged files are not rewritten)."""
        secrets = {"MLOPS_RABBITMQ_QUEUE_URL": self.monitoring["queueUrl"]} if self.monitoring else {}
        write_if_changed(self.env_file, env_file_text(secrets, f"deployment {self.deployment_id}", quoted=False))
        context = {**deployment_values(self.deployment_id, self.name, [model], self.settings, self.run_as_user,
                                       self.monitoring),
                   "dockerNetwork": self.settings["dockerNetwork"], "envFile": str(self.env_file), "replicas": replicas}
        write_if_changed(self.compose_file, render(TEMPLATE, context))
        return self.compose_file

    def deploy(self) -> None:
        """Create the stack, or update it in place (swarm rolls the tasks by update_config)."""
        self.engine.deploy_stack(self.name, self.compose_file)

    def service(self) -> dict[str, Any] | None:
        """Return `docker service inspect` of the stack's PPS service, or None when there is none."""
        return self.engine.service({STACK_LABEL: self.name, labels.DEPLOYMENT: self.deployment_id})

    def tasks(self, service: dict[str, Any] | None = None) -> list[TaskInfo]:
        """Return the service's tasks, current and past."""
        return self.engine.tasks_of(service if service is not None else self.service())

    def wait_converged(self, model_id: str, replicas: int, timeout: float) -> str | None:
        """Wait until `replicas` tasks of this model run (healthy) and no update is under way; return why not."""
        return wait_converged(self.name, self.service, self.tasks, replicas, timeout, model_id)

    def remove(self, timeout: float) -> bool:
        """Remove the stack and wait until its tasks are gone; return False when there was nothing to remove."""
        had = self.service() is not None
        if had:
            self.engine.remove_stack(self.name, wait_sec=timeout)
        if self.directory.exists():
            shutil.rmtree(self.directory)
        return had


def wait_converged(name: str, service_of: Callable[[], dict[str, Any] | None],
                   tasks_of: Callable[[dict[str, Any]], list[TaskInfo]], replicas: int, timeout: float,
                   model_id: str | None = None) -> str | None:
    """Wait until `replicas` tasks (of model_id, if given, and no other) run healthy and no update is under way.

    Return why not: swarm rolled the update back, the nodes lack the image, or the time ran out.
    """
    deadline = time.monotonic() + timeout
    last = "no service yet"
    of_model = "" if model_id is None else f" of model {model_id}"
    while time.monotonic() < deadline:
        service = service_of()
        if service:
            update = str((service.get("UpdateStatus") or {}).get("State") or "")
            if update in ROLLBACK:
                message = (service.get("UpdateStatus") or {}).get("Message", "")
                return f"swarm rolled the update of {name} back ({update}: {message})"
            tasks = tasks_of(service)
            mine = [t for t in tasks if t.running and model_id in (None, t.env.get("MLOPS_MODEL_ID"))]
            others = [t for t in tasks if t.running and t not in mine]
            failed = [t.error for t in tasks if t.state in ("failed", "rejected") and t.error]
            if len(mine) >= replicas and not others and update in ("", "completed"):
                return None
            missing = [e for e in failed if "No such image" in e]
            if missing and not mine:
                # Swarm retries such a task forever; without a registry no node will ever pull the image.
                return (f"the nodes of stack {name} cannot start its tasks: {missing[-1]} (fix: load the "
                        "image into every node, e.g. `docker save IMAGE | docker -H NODE load`, or push it to a "
                        "registry every node can pull from)")
            last = (f"{len(mine)}/{replicas} tasks{of_model} running, {len(others)} of others, update "
                    f"{update or 'none'}" + (f"; last task error: {failed[-1]}" if failed else ""))
        time.sleep(0.5)
    return f"stack {name} did not converge within {timeout:.0f} s ({last})"


def edge_stack_file(settings: dict[str, Any], stacks_dir: Path) -> Path:
    """Render the swarm's traefik stack file into `<stacks dir>/<projectName>-traefik/swarm.yaml`."""
    path = stacks_dir / f"{settings['projectName']}-traefik" / "swarm.yaml"
    context = {"dockerNetwork": settings["dockerNetwork"], "traefikImage": settings["traefikImage"],
               "traefikPort": int(settings["swarmTraefikPort"])}
    write_if_changed(path, render(EDGE_TEMPLATE, context))
    return path

