"""The one module that calls python-on-whales; every Docker error leaves here as an EngineError with stderr."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient, DockerException
from python_on_whales.utils import stream_stdout_and_stderr

from bosun_local.contracts.labels import COMPOSE_PROJECT, COMPOSE_SERVICE
from bosun_local.engine import engine_api
from bosun_local.errors import EngineError

_docker = DockerClient()


def _stderr_of(exc: DockerException) -> str:
    text = (exc.stderr or "").strip() or (exc.stdout or "").strip()
    return text[-4000:]


@contextmanager
def docker_errors(what: str, fix: str = "read the Docker error above and fix its cause") -> Iterator[None]:
    """Turn python-on-whales errors inside the block into EngineError naming what failed, with stderr."""
    try:
        yield
    except DockerException as exc:
        command = " ".join(str(a) for a in exc.docker_command)
        raise EngineError(f"{what} failed (`{command}`, exit {exc.return_code}):\n{_stderr_of(exc)}", fix=fix) from exc
    except FileNotFoundError as exc:
        raise EngineError(f"{what} failed: the docker CLI was not found ({exc})",
                          fix="install the Docker CLI, or run `make up` to provision it") from exc


def engine_version() -> str:
    """Return the engine's server version."""
    with docker_errors("reading the Docker engine version", fix="start the Docker engine (`make up` does it)"):
        server = _docker.version().server
        return str(server.version if server else "unknown")


def compose_version() -> str:
    """Return the Compose plugin version."""
    with docker_errors("reading the Compose plugin version", fix="run `make up` to install the Compose v2 plugin"):
        return str(_docker.compose.version()).strip()


def image_exists(name: str) -> bool:
    """Return True if an image with this name is present locally."""
    with docker_errors(f"looking up image {name}"):
        return bool(_docker.image.exists(name))


def image_labels(name: str) -> dict[str, str]:
    """Return the labels of a local image ({} if it has none)."""
    with docker_errors(f"inspecting image {name}"):
        return dict(_docker.image.inspect(name).config.labels or {})


def image_size(name: str) -> int:
    """Return the size of a local image in bytes."""
    with docker_errors(f"inspecting image {name}"):
        return int(_docker.image.inspect(name).size)


def tag_image(source: str, target: str) -> None:
    """Give a local image another name."""
    with docker_errors(f"tagging image {source} as {target}"):
        _docker.image.tag(source, target)


def import_image(tarball: Path, tag: str, changes: list[str]) -> None:
    """Create an image from a root filesystem tarball."""
    with docker_errors(f"importing {tarball} as image {tag}"):
        _docker.image.import_(tarball, tag=tag, changes=changes)


def pull_image(name: str) -> None:
    """Pull an image from its registry."""
    with docker_errors(f"pulling image {name}", fix="check the registry is reachable, or build without --upstream"):
        _docker.image.pull(name, quiet=True)


_STEP = re.compile(r"^Step (\d+)/(\d+) :")


def build_image(context: Path, tag: str, labels: dict[str, str], dockerfile: Path | None = None,
                build_args: dict[str, str] | None = None,
                on_step: Callable[[int, int, str], None] | None = None) -> None:
    """Build an image with the classic builder (no buildx here), reporting `Step i/n` as it goes."""
    cmd: list[Any] = [*_docker.client_config.docker_cmd, "build", "--tag", tag, "--rm"]
    for key, value in sorted(labels.items()):
        cmd += ["--label", f"{key}={value}"]
    for key, value in sorted((build_args or {}).items()):
        cmd += ["--build-arg", f"{key}={value}"]
    if dockerfile:
        cmd += ["--file", str(dockerfile)]
    cmd.append(str(context))
    tail: list[str] = []
    try:
        for _source, raw in stream_stdout_and_stderr(cmd, env={"DOCKER_BUILDKIT": "0"}):
            line = raw.decode(errors="replace").rstrip()
            tail = (tail + [line])[-40:]
            match = _STEP.match(line)
            if match and on_step:
                on_step(int(match.group(1)), int(match.group(2)), line)
    except DockerException as exc:
        output = "\n".join(tail)
        raise EngineError(f"building image {tag} from {context} failed (exit {exc.return_code}):\n{output}\n"
                          f"{_stderr_of(exc)}", fix="read the build output above and fix the Dockerfile or its inputs"
                          ) from exc


@dataclass(frozen=True)
class ServiceState:
    """State of one Compose service's container."""

    service: str
    container: str
    status: str
    health: str | None
    exit_code: int | None


class ComposeProject:
    """A Compose project: its files and name live here, not on each call."""

    def __init__(self, name: str, compose_file: Path) -> None:
        self.name = name
        self.compose_file = compose_file
        self._client = DockerClient(compose_files=[compose_file], compose_project_name=name)

    def up(self, wait: bool = True, timeout: int | None = None, services: list[str] | None = None,
           force_recreate: bool = False, dependencies: bool = True) -> None:
        """Create and start the project's services; with wait, block until healthy; without dependencies, start
        only the services named (and wait on none of their depends_on conditions)."""
        with docker_errors(f"starting Compose project {self.name} ({self.compose_file})",
                           fix=f"read compose's message above; `docker compose -p {self.name} logs` "
                           "shows the services' logs"):
            self._client.compose.up(services=services, detach=True, wait=wait, wait_timeout=timeout,
                                    quiet=True, remove_orphans=True, force_recreate=force_recreate, pull="never",
                                    dependencies=dependencies)

    def down(self, volumes: bool = False, timeout: int | None = None) -> None:
        """Stop and remove the project's containers and networks (volumes only when asked)."""
        with docker_errors(f"stopping Compose project {self.name}"):
            self._client.compose.down(volumes=volumes, remove_orphans=True, timeout=timeout, quiet=True)

    def stop_services(self, services: list[str], timeout: int | None = None) -> None:
        """Stop and remove some services of the project, leaving the others running."""
        with docker_errors(f"removing services {', '.join(services)} of Compose project {self.name}"):
            self._client.compose.rm(services=services, stop=True, volumes=False)

    def scale(self, service: str, replicas: int, timeout: int | None = None) -> None:
        """Run `replicas` containers of one service, leaving the running ones as they are."""
        with docker_errors(f"scaling {service} of Compose project {self.name} to {replicas}"):
            self._client.compose.up(services=[service], scales={service: replicas}, detach=True, recreate=False,
                                    quiet=True, pull="never", dependencies=False, wait=False,
                                    wait_timeout=timeout)

    def ps(self) -> list[ServiceState]:
        """Return the state of each of the project's containers, stopped ones included."""
        with docker_errors(f"listing Compose project {self.name}"):
            containers = self._client.compose.ps(all=True)
            states = []
            for c in containers:
                state = c.state  # read once: each attribute access may re-inspect
                health = state.health.status if state.health else None
                states.append(ServiceState(
                    service=(c.config.labels or {}).get(COMPOSE_SERVICE, c.name),
                    container=c.name, status=str(state.status), health=health, exit_code=state.exit_code))
            return states

    def config_check(self) -> None:
        """Validate the compose file with compose itself."""
        with docker_errors(f"validating {self.compose_file}", fix="fix the template or the config values it used"):
            self._client.compose.config(return_json=True)


def project_containers(project: str) -> list[str]:
    """Return the names of every container (any state) of a Compose project."""
    with docker_errors(f"listing containers of project {project}"):
        found = _docker.container.list(all=True, filters=[("label", f"{COMPOSE_PROJECT}={project}")])
        return [c.name for c in found]


def project_networks(project: str) -> list[str]:
    """Return the names of the networks of a Compose project."""
    with docker_errors(f"listing networks of project {project}"):
        return [n.name for n in _docker.network.list(filters=[("label", f"{COMPOSE_PROJECT}={project}")])]


def port_published_by(host_port: int) -> str | None:
    """Return the name of a running container publishing this host port, if any."""
    with docker_errors("listing containers"):
        for c in _docker.container.list():
            for bindings in (c.network_settings.ports or {}).values():
                for b in bindings or []:
                    if str(b.get("HostPort")) == str(host_port):
                        return c.name
    return None


def container_logs(name: str, tail: int = 30) -> str:
    """Return the last lines of a container's logs ('' if it cannot be read)."""
    try:
        return str(_docker.container.logs(name, tail=tail))
    except DockerException:
        return ""


# -- containers by label (management agent, docker plugin) -----------------------------------------------------


@dataclass(frozen=True)
class ContainerInfo:
    """One container as read by a single `docker inspect`: enough to judge its health in one tick."""

    name: str
    id: str
    labels: dict[str, str]
    status: str
    health: str | None
    exit_code: int | None
    started_at: str
    finished_at: str
    restart_count: int
    # Network name -> the container's IP address on it.
    addresses: dict[str, str] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        """Return True if running and healthy (or running without a healthcheck)."""
        return self.status == "running" and self.health in (None, "healthy")


def _container_info(doc: dict[str, Any]) -> ContainerInfo:
    state = doc.get("State") or {}
    health = (state.get("Health") or {}).get("Status")
    return ContainerInfo(
        name=str(doc.get("Name", "")).lstrip("/"), id=str(doc.get("Id", "")),
        labels=dict((doc.get("Config") or {}).get("Labels") or {}), status=str(state.get("Status", "unknown")),
        health=health, exit_code=state.get("ExitCode"), started_at=str(state.get("StartedAt", "")),
        finished_at=str(state.get("FinishedAt", "")), restart_count=int(doc.get("RestartCount") or 0),
        addresses={net: str(n.get("IPAddress") or "") for net, n in
                   ((doc.get("NetworkSettings") or {}).get("Networks") or {}).items() if isinstance(n, dict)})


def containers_with_labels(labels: dict[str, str | None]) -> list[ContainerInfo]:
    """Return every container (any state) carrying all the labels (value None: any value), in two CLI calls."""
    from python_on_whales.utils import run

    filters = [f"label={k}" if v is None else f"label={k}={v}" for k, v in sorted(labels.items())]
    socket_path = engine_api.local_socket()
    if socket_path:
        # The agent reads this every few seconds: an API request, not two CLI processes.
        what = f"listing containers labelled {', '.join(filters)}"
        docs = engine_api.containers_by_filters(socket_path, filters, what)
        return sorted((_container_info(d) for d in docs), key=lambda c: c.name)
    base = [*_docker.client_config.docker_cmd]
    with docker_errors(f"listing containers labelled {', '.join(filters)}"):
        cmd = [*base, "container", "ls", "--all", "--quiet", "--no-trunc"]
        for f in filters:
            cmd += ["--filter", f]
        ids = str(run(cmd)).split()
    if not ids:
        return []
    return sorted((_container_info(d) for d in inspect_documents([*base, "container", "inspect", *ids])),
                  key=lambda c: c.name)


def inspect_documents(command: list[str]) -> list[dict[str, Any]]:
    """Run a `docker ... inspect ID...` command; return the documents of the objects that still exist."""
    import json

    from python_on_whales.utils import run

    try:
        text = str(run(command))
    except DockerException as exc:
        # An object removed between listing and inspecting makes inspect fail for it but still print the others.
        text = exc.stdout or "[]"
    try:
        docs = json.loads(text)
    except ValueError:
        return []
    return docs if isinstance(docs, list) else []


def remove_containers(names: list[str], timeout: int = 10) -> None:
    """Stop (gracefully, then kill after timeout) and remove containers by name."""
    if not names:
        return
    with docker_errors(f"removing containers {', '.join(names)}"):
        _docker.container.stop(names, time=timeout)
        _docker.container.remove(names, force=True)


def container_deaths(labels: dict[str, str], seconds: float) -> Iterator[dict[str, str]]:
    """Yield the attributes (labels, name, exitCode) of each container with labels that dies in the next seconds."""
    until = datetime.now() + timedelta(seconds=seconds)
    first, *rest = sorted(labels.items())
    with docker_errors("watching containers for exits"):
        for event in _docker.system.events(until=until, filters={"label": f"{first[0]}={first[1]}", "event": "die"}):
            attributes = dict(event.actor.attributes or {}) if event.actor else {}
            if all(attributes.get(k) == v for k, v in rest):
                yield attributes


def start_container(name: str) -> None:
    """Start a stopped container (nothing happens to a running one)."""
    with docker_errors(f"starting container {name}", fix=f"`docker logs {name}` shows why it stopped"):
        _docker.container.start(name)


def restart_container(name: str, timeout: int = 10) -> None:
    """Restart one container (start it when it is not running)."""
    with docker_errors(f"restarting container {name}", fix=f"`docker logs {name}` shows why it stopped"):
        _docker.container.restart(name, time=timeout)


def container_memory(names: list[str]) -> dict[str, int]:
    """Return the memory used (bytes) by each running container of the list."""
    if not names:
        return {}
    with docker_errors(f"reading resource usage of {', '.join(names)}"):
        return {s.container_name: int(s.memory_used) for s in _docker.container.stats(names)}


def remove_image(name: str) -> bool:
    """Remove a local image by name; return False if there was none."""
    with docker_errors(f"removing image {name}", fix=f"stop the containers that use it, then `docker rmi {name}`"):
        if not _docker.image.exists(name):
            return False
        _docker.image.remove(name, force=False, prune=True)
        return True


def network_exists(name: str) -> bool:
    """Return True if a Docker network with this name exists."""
    with docker_errors(f"looking up network {name}"):
        return bool(_docker.network.exists(name))


def exec_in_container(name: str, command: list[str]) -> str:
    """Run a command inside a running container and return its output."""
    with docker_errors(f"running {' '.join(command)} in container {name}"):
        return str(_docker.container.execute(name, command))


def probe_passes(name: str, command: list[str], timeout: float) -> bool:
    """Run a healthcheck command in a running container once; return whether it exited 0 within timeout."""
    def run() -> bool:
        try:
            _docker.container.execute(name, command)
        except DockerException:
            return False
        return True

    # No timeout in the CLI's exec: a probe that hangs (a listener that accepts and never answers) counts as a
    # failure here, and its thread ends with the exec.
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(run).result(timeout=timeout)
    except FutureTimeout:
        return False
    finally:
        pool.shutdown(wait=False)


def exec_script(name: str, what: str, script: str, env: dict[str, str]) -> str:
    """Run a shell script in a running container, secrets passed as environment (kept out of messages)."""
    with docker_errors(f"{what} (in container {name})"):
        return str(_docker.container.execute(name, ["sh", "-c", script], envs=env))


# -- the package sandbox -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SandboxSpec:
    """A throwaway container for untrusted package code: what it runs, what it may read, what it may use."""

    image: str
    command: list[str]
    read_only_mounts: dict[str, str]  # host path -> path inside
    user: str
    labels: dict[str, str]
    memory: str = "1g"
    cpus: float = 1.0
    pids: int = 256
    timeout_sec: float = 120.0


@dataclass(frozen=True)
class SandboxRun:
    """How a sandbox container ended: exit code (None when killed at the time limit) and its output."""

    exit_code: int | None
    output: str
    timed_out: bool
    host_config: dict[str, Any]  # `docker inspect`'s HostConfig, for audits and tests


def run_sandbox(spec: SandboxSpec) -> SandboxRun:
    """Run untrusted code in a locked-down container (no network, no capabilities, read-only) and remove it."""
    import secrets
    import time

    name = f"bosun-sandbox-{secrets.token_hex(6)}"
    with docker_errors(f"starting sandbox container {name} from {spec.image}",
                       fix="build the PPS image (`bosun-local images build`) and check the engine is up"):
        _docker.container.run(
            spec.image, spec.command, name=name, detach=True, user=spec.user, read_only=True,
            networks=["none"], cap_drop=["ALL"], security_options=["no-new-privileges"],
            memory=spec.memory, memory_swap=spec.memory, cpus=spec.cpus, pids_limit=spec.pids,
            tmpfs=["/tmp:size=64m"], envs={"HOME": "/tmp"}, labels=spec.labels,
            volumes=[(src, dst, "ro") for src, dst in spec.read_only_mounts.items()],
            log_driver="json-file", log_options=["max-size=8m"], workdir="/tmp")
    try:
        deadline = time.monotonic() + spec.timeout_sec
        while True:
            with docker_errors(f"inspecting sandbox container {name}"):
                state = _docker.container.inspect(name).state
            if state.status in ("exited", "dead"):
                exit_code, timed_out = state.exit_code, False
                break
            if time.monotonic() > deadline:
                exit_code, timed_out = None, True
                break
            time.sleep(0.2)
        with docker_errors(f"reading the output of sandbox container {name}"):
            output = str(_docker.container.logs(name, tail=200))
            host_config = _docker.container.inspect(name).host_config.model_dump(by_alias=True, mode="json")
        return SandboxRun(exit_code, output, timed_out, host_config)
    finally:
        try:
            _docker.container.remove(name, force=True)
        except DockerException:
            pass  # already gone; the label lets an operator find a leftover
