"""The swarm calls of the engine adapter: swarm, nodes, stacks, services and tasks, on one engine chosen by host.

adapter.py holds the single-engine calls; this module holds those of swarm mode, each wrapped by the same
docker_errors (command, exit code, stderr and a fix in one EngineError). Both are the only doors to the engine.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient
from python_on_whales.utils import run

from bosun_local.engine.adapter import docker_errors, inspect_documents
from bosun_local.errors import EngineError

STACK_LABEL = "com.docker.stack.namespace"


@dataclass(frozen=True)
class NodeInfo:
    """One swarm node as the manager sees it."""

    id: str
    hostname: str
    role: str  # manager | worker
    state: str  # ready | down | unknown | disconnected
    availability: str  # active | pause | drain
    address: str
    leader: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TaskInfo:
    """One task (a replica's container on a node) of a swarm service."""

    id: str
    service: str
    slot: int
    node_id: str
    state: str  # new ... starting | running | shutdown | failed | rejected | orphaned
    desired_state: str
    error: str
    image: str
    env: dict[str, str] = field(default_factory=dict)
    addresses: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        """Return True if the task runs and is meant to (swarm marks a task running once its healthcheck passes)."""
        return self.state == "running" and self.desired_state == "running"


def _task_info(doc: dict[str, Any], services: dict[str, str]) -> TaskInfo:
    status = doc.get("Status") or {}
    spec = (doc.get("Spec") or {}).get("ContainerSpec") or {}
    env = dict(item.split("=", 1) for item in spec.get("Env") or [] if "=" in item)
    addresses = [a.split("/")[0] for att in doc.get("NetworksAttachments") or [] for a in att.get("Addresses") or []]
    return TaskInfo(id=str(doc.get("ID", "")), service=services.get(str(doc.get("ServiceID", "")), "?"),
                    slot=int(doc.get("Slot") or 0), node_id=str(doc.get("NodeID") or ""),
                    state=str(status.get("State", "unknown")), desired_state=str(doc.get("DesiredState", "")),
                    error=str(status.get("Err") or ""), image=str(spec.get("Image", "")).split("@")[0], env=env,
                    addresses=addresses)


def _node_info(doc: dict[str, Any]) -> NodeInfo:
    manager, spec, status = doc.get("ManagerStatus") or {}, doc.get("Spec") or {}, doc.get("Status") or {}
    return NodeInfo(id=str(doc.get("ID", "")), hostname=str((doc.get("Description") or {}).get("Hostname", "")),
                    role=str(spec.get("Role", "")), state=str(status.get("State")),
                    availability=str(spec.get("Availability", "")), address=str(status.get("Addr", "")),
                    leader=bool(manager.get("Leader")))


class SwarmEngine:
    """A Docker engine in (or joining) a swarm: the local one, or another reached by host (tcp://ADDR:2375)."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host or None
        self._client = DockerClient(host=self.host) if self.host else DockerClient()

    @property
    def where(self) -> str:
        """Return how messages name this engine."""
        return f"the engine at {self.host}" if self.host else "the local engine"

    def _run(self, what: str, *args: str, fix: str = "read the Docker error above and fix its cause") -> str:
        with docker_errors(f"{what} on {self.where}", fix=fix):
            return str(run([*self._client.client_config.docker_cmd, *args]))

    # -- the swarm itself ----------------------------------------------------------------------------------------

    def swarm_info(self) -> dict[str, Any]:
        """Return `docker info`'s Swarm section (LocalNodeState, ControlAvailable, NodeID, NodeAddr, ...)."""
        text = self._run("reading the swarm state", "info", "--format", "{{json .Swarm}}",
                         fix="start the engine, or point swarmDockerHost at a reachable swarm manager")
        return dict(json.loads(text or "{}"))

    def is_manager(self) -> bool:
        """Return True if this engine is an active manager of a swarm."""
        info = self.swarm_info()
        return info.get("LocalNodeState") == "active" and bool(info.get("ControlAvailable"))

    def init(self, advertise_addr: str, heartbeat: str = "") -> str:
        """Make this engine the first manager of a new swarm (nodes beat every `heartbeat`); return its node id."""
        extra = ["--dispatcher-heartbeat", heartbeat] if heartbeat else []
        self._run("initialising a swarm", "swarm", "init", "--advertise-addr", advertise_addr, *extra)
        return str(self.swarm_info().get("NodeID", ""))

    def join_token(self, role: str = "worker") -> str:
        """Return the token other engines join this swarm with as `role`."""
        return self._run(f"reading the {role} join token", "swarm", "join-token", "-q", role).strip()

    def join(self, manager_addr: str, token: str, advertise_addr: str) -> None:
        """Join the swarm whose manager listens on manager_addr (ADDR:2377)."""
        self._run(f"joining the swarm of {manager_addr}", "swarm", "join", "--token", token,
                  "--advertise-addr", advertise_addr, f"{manager_addr}:2377" if ":" not in manager_addr
                  else manager_addr)

    def leave(self, force: bool = False) -> None:
        """Leave the swarm (a manager only with force)."""
        self._run("leaving the swarm", "swarm", "leave", *(["--force"] if force else []))

    def nodes(self) -> list[NodeInfo]:
        """Return every node of the swarm (this engine must be a manager)."""
        ids = self._run("listing swarm nodes", "node", "ls", "--quiet").split()
        if not ids:
            return []
        docs = json.loads(self._run("inspecting swarm nodes", "node", "inspect", *ids))
        return sorted((_node_info(d) for d in docs), key=lambda n: (n.role != "manager", n.hostname))

    def remove_node(self, node_id: str) -> None:
        """Remove a node from the swarm, even one that is still up."""
        self._run(f"removing swarm node {node_id}", "node", "rm", "--force", node_id)

    # -- networks and images ---------------------------------------------------------------------------------------

    def network_exists(self, name: str) -> bool:
        """Return True if a network of this name exists on this engine."""
        with docker_errors(f"looking up network {name} on {self.where}"):
            return bool(self._client.network.exists(name))

    def create_overlay(self, name: str, labels: dict[str, str]) -> None:
        """Create an attachable overlay network (services on every node, and plain containers, may join it)."""
        args = ["network", "create", "--driver", "overlay", "--attachable"]
        for key, value in sorted(labels.items()):
            args += ["--label", f"{key}={value}"]
        self._run(f"creating overlay network {name}", *args, name)

    def remove_network(self, name: str) -> None:
        """Remove a network (nothing happens when it is gone already)."""
        if self.network_exists(name):
            self._run(f"removing network {name}", "network", "rm", name,
                      fix=f"remove the services still attached to {name} first")

    def image_exists(self, name: str) -> bool:
        """Return True if this engine holds an image of this name."""
        with docker_errors(f"looking up image {name} on {self.where}"):
            return bool(self._client.image.exists(name))

    def load_image(self, archive: Path) -> None:
        """Load images from a `docker save` archive (there is no registry to pull from)."""
        self._run(f"loading images from {archive}", "load", "--quiet", "--input", str(archive),
                  fix="check the archive is complete (`docker save` it again) and the node has disk space")

    # -- stacks, services and tasks --------------------------------------------------------------------------------

    def deploy_stack(self, name: str, compose_file: Path) -> None:
        """Create or update a stack from a compose file; returns once swarm accepted it (tasks converge later)."""
        self._run(f"deploying stack {name} ({compose_file})", "stack", "deploy", "--compose-file", str(compose_file),
                  "--prune", "--resolve-image", "never", "--detach=true", "--quiet", name,
                  fix=f"read the message above; `docker stack ps {name} --no-trunc` shows the tasks' errors")

    def force_update(self, service: str) -> None:
        """Restart every task of a service (rolling, by its update_config) without changing its spec."""
        self._run(f"restarting the tasks of service {service}", "service", "update", "--force", "--detach", "--quiet",
                  service)

    def scale(self, service: str, replicas: int) -> None:
        """Set a service's replicas (swarm removes tasks from the nodes holding most of them first)."""
        self._run(f"scaling service {service} to {replicas}", "service", "scale", "--detach", f"{service}={replicas}")

    def remove_stack(self, name: str, wait_sec: float = 0.0) -> None:
        """Remove a stack's services and networks; wait up to wait_sec until its services are gone."""
        self._run(f"removing stack {name}", "stack", "rm", name)
        deadline = time.monotonic() + wait_sec
        # The stacks' overlay network is a shared one; their tasks still hold addresses on it until they stop.
        while wait_sec and self.services({STACK_LABEL: name}) and time.monotonic() < deadline:
            time.sleep(0.3)

    def stacks(self) -> list[str]:
        """Return the names of the stacks deployed on the swarm."""
        return sorted(line.strip() for line in self._run("listing stacks", "stack", "ls", "--format",
                                                         "{{.Name}}").splitlines() if line.strip())

    def services(self, labels: dict[str, str]) -> list[dict[str, Any]]:
        """Return `docker service inspect` of every service carrying all the labels."""
        args = ["service", "ls", "--quiet"]
        for key, value in sorted(labels.items()):
            args += ["--filter", f"label={key}={value}"]
        ids = self._run("listing services", *args).split()
        if not ids:
            return []
        # A service removed between the two calls is left out; the others are still returned.
        return inspect_documents([*self._client.client_config.docker_cmd, "service", "inspect", *ids])

    def service(self, labels: dict[str, str]) -> dict[str, Any] | None:
        """Return `docker service inspect` of the one service carrying all the labels, or None."""
        found = self.services(labels)
        return found[0] if found else None

    def tasks_of(self, service: dict[str, Any] | None) -> list[TaskInfo]:
        """Return the tasks (current and past) of one inspected service; none for None."""
        return self.tasks({str(service["ID"]): str(service["Spec"]["Name"])}) if service else []

    def tasks(self, services: dict[str, str]) -> list[TaskInfo]:
        """Return the tasks (current and past) of the services given as id -> name."""
        if not services:
            return []
        ids: list[str] = []
        for service_id in services:
            ids += self._run("listing tasks", "service", "ps", "--quiet", "--no-trunc", service_id).split()
        if not ids:
            return []
        # Swarm prunes old tasks (task history limit) between the two calls: those are left out.
        docs = inspect_documents([*self._client.client_config.docker_cmd, "inspect", "--type", "task", *ids])
        return sorted((_task_info(d, services) for d in docs), key=lambda t: (t.service, t.slot, t.id))

    def service_logs(self, name: str, tail: int = 20) -> str:
        """Return the last log lines of a service's tasks ('' if they cannot be read)."""
        try:
            return self._run(f"reading the logs of service {name}", "service", "logs", "--raw", "--tail", str(tail),
                             name)
        except EngineError:
            return ""
