"""One deployment's Compose stack for the docker plugin: names, rendering, and the Compose calls on it."""
from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bosun_local.contracts import labels
from bosun_local.contracts.liveness import http_probe_test
from bosun_local.engine import adapter
from bosun_local.envstack.render import env_file_text, render, write_if_changed
from bosun_local.errors import BosunError, EngineError
from bosun_local.plugins.deployment_values import deployment_values, router_name
from bosun_local.plugins.docker.broker_users import ensure_for, remove_for

TEMPLATE = "deployment/compose.yaml.j2"
DEPLOYMENT_LABEL = labels.DEPLOYMENT
MODEL_LABEL = labels.MODEL
NETWORK_LABEL = labels.NETWORK
ARTIFACT_LABEL = labels.ARTIFACT
ROLE_LABEL = labels.ROLE
REPLICA_LABEL = labels.REPLICA
CHAMPION, CHALLENGER, CANARY = "champion", "challenger", "canary"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_MEMORY = re.compile(r"^\d+(\.\d+)?[bkmg]?$", re.IGNORECASE)
DEFAULT_MEMORY = "512m"
# The port every PPS container listens on (the pool's replicas too).
PPS_PORT = 8080


class DeploymentConfigError(BosunError):
    """A deployment's ids or keyValueConfig cannot make a valid stack."""


def check_id(value: str, what: str) -> str:
    """Return an id safe in container and Compose names, or raise naming it."""
    if not _ID.match(value):
        raise DeploymentConfigError(f"{what} {value!r} cannot name a container",
                                    fix="use letters, digits, '_', '.' and '-' (service ids are 24 hex digits)")
    return value


@dataclass(frozen=True)
class ModelService:
    """One model's PPS service inside a deployment's stack."""

    model_id: str
    artifact: str
    memory: str
    cpus: float | None
    workers: int
    # Champions serve clients; a challenger gets a mirror of their traffic, a canary a share of it.
    role: str = CHAMPION
    # Champions run `replicas` containers of a model, one Compose service each; the first keeps the plain names.
    replica: int = 1

    @property
    def slug(self) -> str:
        """Return the model id as it may appear in Compose service and traefik names."""
        return re.sub(r"[^a-z0-9-]", "-", self.model_id.lower())

    def _nth(self, sep: str) -> str:
        return "" if self.replica == 1 else f"{sep}r{self.replica}"

    def service(self) -> str:
        return f"pps-{self.slug}{self._nth('-')}" + ("" if self.role == CHAMPION else f"-{self.role}")

    def suffix(self) -> str:
        """Return what follows the deployment id in the container name."""
        return self.model_id + self._nth("_") + ("" if self.role == CHAMPION else f"_{self.role}")

    def as_role(self, role: str) -> ModelService:
        """Return the same model in another role."""
        return ModelService(self.model_id, self.artifact, self.memory, self.cpus, self.workers, role, self.replica)

    def as_replica(self, replica: int) -> ModelService:
        """Return the same model as another replica."""
        return ModelService(self.model_id, self.artifact, self.memory, self.cpus, self.workers, self.role, replica)

    def context(self, container_prefix: str) -> dict[str, Any]:
        return {"modelId": self.model_id, "artifact": self.artifact, "memory": self.memory, "cpus": self.cpus,
                "workers": self.workers, "service": self.service(), "containerName": container_prefix + self.suffix(),
                "role": self.role, "slug": self.slug, "replica": self.replica}


def model_service(deployment_id: str, model_id: str, artifact: Path | str | None,
                  kv: dict[str, Any]) -> ModelService:
    """Validate one model's inputs (artifact dir, memory, cpus, PREDICTION_API_WORKERS) into a ModelService."""
    check_id(model_id, "model id")
    if artifact is None:
        raise DeploymentConfigError(f"deployment {deployment_id}: deploymentInfo.modelArtifact is not set",
                                    fix="the docker plugin mounts the model package from modelArtifact; set it")
    path = Path(artifact).expanduser()
    if not path.is_absolute():
        path = path.resolve()
    if not path.is_dir():
        raise DeploymentConfigError(f"deployment {deployment_id}: modelArtifact {path} is not a directory",
                                    fix="point modelArtifact at the unpacked model package directory")
    memory = str(kv.get("memory") or DEFAULT_MEMORY).strip()
    if not _MEMORY.match(memory):
        raise DeploymentConfigError(f"deployment {deployment_id}: keyValueConfig memory={memory!r} is not a size",
                                    fix="set memory like 256m or 1g")
    cpus: float | None = None
    if kv.get("cpus") not in (None, ""):
        try:
            cpus = float(kv["cpus"])
        except (TypeError, ValueError):
            cpus = -1.0
        if cpus <= 0:
            raise DeploymentConfigError(f"deployment {deployment_id}: keyValueConfig cpus={kv['cpus']!r} "
                                        "is not a positive number", fix="set cpus like 0.5 or 2")
    raw_workers = kv.get("PREDICTION_API_WORKERS", 1)
    try:
        workers = int(raw_workers)
    except (TypeError, ValueError):
        workers = 0
    if not 1 <= workers <= 64:
        raise DeploymentConfigError(f"deployment {deployment_id}: keyValueConfig "
                                    f"PREDICTION_API_WORKERS={raw_workers!r} is not a whole number from 1 to 64",
                                    fix="set PREDICTION_API_WORKERS like 1 or 2")
    return ModelService(model_id, str(path), memory, cpus, workers)


class DeploymentStack:
    """The Compose project `<containerNamePrefix><deployment id>` under `<data dir>/stacks/`."""

    def __init__(self, deployment_id: str, settings: dict[str, Any], stacks_dir: Path, run_as_user: str,
                 monitoring: dict[str, str] | None) -> None:
        self.deployment_id = check_id(deployment_id, "deployment id")
        self.settings = settings
        self.prefix = str(settings["containerNamePrefix"])
        self.name = f"{self.prefix}{deployment_id}"
        if not _PROJECT.match(self.name):
            raise DeploymentConfigError(f"Compose project name {self.name!r} (containerNamePrefix + deployment id) "
                                        "is not valid", fix="use lowercase letters, digits, '_' and '-' in "
                                                            "containerNamePrefix")
        self.directory = stacks_dir / self.name
        self.run_as_user = run_as_user
        self.monitoring = monitoring

    @property
    def compose_file(self) -> Path:
        return self.directory / "compose.yaml"

    @property
    def router(self) -> str:
        return router_name(self.name)

    def labels(self) -> dict[str, str | None]:
        """Return the labels that select this deployment's containers."""
        return {DEPLOYMENT_LABEL: self.deployment_id, NETWORK_LABEL: str(self.settings["dockerNetwork"])}

    def champions(self) -> list[adapter.ContainerInfo]:
        """Return this deployment's champion containers, any state (its challengers and canary left out)."""
        return [c for c in self.containers() if is_champion(c)]

    def running(self, kv: dict[str, Any]) -> list[ModelService]:
        """Return the models of this deployment's running containers (any role)."""
        return [m for c in self.containers() if c.status == "running" and (m := running_model(c, kv))]

    @property
    def env_file(self) -> Path:
        """Return the 0600 env file holding the deployment's broker login (kept out of compose.yaml)."""
        return self.directory / "pps.env"

    def render(self, models: list[ModelService]) -> Path:
        """Render the compose file for these models; unchanged bytes are not rewritten."""
        secrets = {"MLOPS_RABBITMQ_QUEUE_URL": self.monitoring["queueUrl"]} if self.monitoring else {}
        write_if_changed(self.env_file, env_file_text(secrets, f"deployment {self.deployment_id}"))
        # The values the Kubernetes manifests are rendered from too; Compose adds its network and env file.
        context = {**deployment_values(self.deployment_id, self.name, list(models), self.settings, self.run_as_user,
                                       self.monitoring), "dockerNetwork": self.settings["dockerNetwork"],
                   "envFile": str(self.env_file), **pps_probe_values(self.settings)}
        write_if_changed(self.compose_file, render(TEMPLATE, context))
        return self.compose_file

    def project(self) -> adapter.ComposeProject:
        return adapter.ComposeProject(self.name, self.compose_file)

    def containers(self) -> list[adapter.ContainerInfo]:
        """Return this deployment's containers (any state)."""
        return adapter.containers_with_labels(self.labels())

    def up(self, models: ModelService | list[ModelService], timeout: int,
           recreate: list[ModelService] | bool = False) -> None:
        """Start models' services (replicas) and wait until Docker reports them healthy; recreate those named."""
        models = [models] if isinstance(models, ModelService) else list(models)
        again = list(models) if recreate is True else [m for m in (recreate or []) if m in models]
        ensure_for(self.settings, self.deployment_id)
        if again:
            self.project().up(services=[m.service() for m in again], wait=False, force_recreate=True)
        rest = [m for m in models if m not in again]
        if rest:
            self.project().up(services=[m.service() for m in rest], wait=False)
        self.wait_healthy({self.container_name(m) for m in models}, timeout)

    def wait_healthy(self, names: set[str], timeout: float) -> None:
        """Wait until these containers are healthy; raise EngineError when one exits or the time is up.

        Polled through the engine API every 0.1 s: Compose's --wait answered ~0.3 s after Docker's healthy on an
        idle host, more under load (a blue/green replacement waits on it). An unhealthy one is given until the
        timeout: on a host at load 70 a starting PPS misses probes and recovers (Compose's --wait gave up at once).
        """
        deadline = time.monotonic() + timeout
        while True:
            found = {c.name: c for c in self.containers() if c.name in names}
            if len(found) == len(names) and all(c.healthy for c in found.values()):
                return
            for c in found.values():
                if c.status in ("exited", "dead"):
                    raise EngineError(f"container {c.name} exited with code {c.exit_code} while starting",
                                      fix=f"`docker logs {c.name}` shows why")
            if time.monotonic() > deadline:
                waiting = sorted(f"{n} ({found[n].health or found[n].status})" if n in found else f"{n} (missing)"
                                 for n in names if not (n in found and found[n].healthy))
                raise EngineError(f"containers {', '.join(waiting)} were not healthy within {timeout:g} s",
                                  fix="`docker logs` on them shows why; a slow host may need a larger startTimeoutSec")
            time.sleep(0.1)

    def container_name(self, model: ModelService) -> str:
        return f"{self.prefix}{self.deployment_id}_{model.suffix()}"

    def drain(self, models: list[ModelService], timeout: float) -> list[str]:
        """Turn these models' containers unhealthy (traefik then drops them); return those still healthy."""
        return drain_containers({self.container_name(m) for m in models}, self.containers, timeout)

    def remove(self, models: list[ModelService]) -> None:
        """Stop (gracefully: stop_grace_period) and remove some models' services."""
        if models:
            self.project().stop_services([m.service() for m in models])

    def down(self) -> list[str]:
        """Remove every container of the stack and its directory; return the containers' names."""
        names = [c.name for c in self.containers()]
        if self.compose_file.exists():
            self.project().down(timeout=int(self.settings["gracefulTimeoutSec"]))
        leftovers = [c.name for c in self.containers()]
        adapter.remove_containers(leftovers, timeout=int(self.settings["gracefulTimeoutSec"]))
        if self.directory.exists():
            shutil.rmtree(self.directory)
        remove_for(self.settings, self.deployment_id)
        return names


def is_champion(container: adapter.ContainerInfo) -> bool:
    """Return True for a container that serves clients (not a challenger or a canary)."""
    return (container.labels.get(ROLE_LABEL) or CHAMPION) == CHAMPION


def running_model(container: adapter.ContainerInfo, kv: dict[str, Any]) -> ModelService | None:
    """Return the ModelService a running container was made from, read back from its labels."""
    model_id = container.labels.get(MODEL_LABEL)
    artifact = container.labels.get(ARTIFACT_LABEL)
    if not model_id or not artifact:
        return None
    deployment_id = container.labels.get(DEPLOYMENT_LABEL, "?")
    role = container.labels.get(ROLE_LABEL) or CHAMPION
    replica = replica_of(container)
    try:
        fresh = model_service(deployment_id, model_id, artifact, kv)
    except DeploymentConfigError:
        # The package dir may be gone; the running container keeps it mounted, so keep describing it as it is.
        return ModelService(model_id, artifact, DEFAULT_MEMORY, None, 1, role, replica)
    return fresh.as_role(role).as_replica(replica)


def replica_of(container: adapter.ContainerInfo) -> int:
    """Return which replica of its model a container is (1 when the label is absent or not a number)."""
    return replica_number(container.labels)


def pps_host(container: adapter.ContainerInfo) -> str:
    """Return the name a container's PPS gives as /info's host (Docker's hostname: the short container id)."""
    return container.id[:12]


def replica_number(container_labels: dict[str, str]) -> int:
    """Return the replica number a container's labels carry (1 when absent or not a number)."""
    raw = container_labels.get(REPLICA_LABEL) or "1"
    return int(raw) if raw.isdigit() and int(raw) >= 1 else 1


def pps_probe_values(settings: dict[str, Any]) -> dict[str, Any]:
    """Return the PPS healthcheck's template values: fast until the first pass, then every probeSteadySec."""
    steady = int(settings.get("probeSteadySec") or 30)
    return {"ppsHealthcheck": http_probe_test(PPS_PORT, steady), "ppsProbeTimeout": f"{steady + 5}s"}


def drain_containers(names: set[str], containers: Callable[[], list[adapter.ContainerInfo]],
                     timeout: float) -> list[str]:
    """Turn the running ones of these PPS containers unhealthy (traefik then drops them); return those still healthy.

    The PPS healthcheck fails while /tmp/drain exists; `containers` lists them again (by label) while waiting.
    """
    for c in containers():
        if c.name in names and c.status == "running":
            try:
                adapter.exec_in_container(c.name, ["touch", "/tmp/drain"])  # no interpreter start
            except EngineError:
                pass  # it stopped meanwhile: nothing left to drain
    deadline = time.monotonic() + timeout
    while True:
        healthy = [c.name for c in containers() if c.name in names and c.healthy]
        if not healthy or time.monotonic() > deadline:
            return healthy
        time.sleep(0.3)
