"""One environment stack for the whole fault suite: every component in its container, the data dir on a tmpfs."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bosun_local.client import ServiceClient
from bosun_local.engine import adapter
from tests.agent.harness import BIN, until, world_readable_home
from tests.conftest import write_test_config

# Big enough for the service's database, packages and logs of the suite; small enough to fill in a blink.
TMPFS_MB = 160
COMPONENT = "io.bosun-local.component"


@dataclass
class FaultStack:
    """The stack's names, data dir and helpers to break its parts on purpose."""

    home: Path
    name: str
    values: dict[str, Any]

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "BOSUN_HOME": str(self.home)}

    @property
    def web(self) -> str:
        return str(self.values["outfacingPredictionURLPrefix"])

    def cli(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run `bosun-local ARGS` against this stack."""
        proc = subprocess.run([str(BIN / "bosun-local"), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"bosun-local {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n"
                                 f"{proc.stderr}")
        return proc

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def client(self, timeout: float = 30.0) -> ServiceClient:
        return ServiceClient(url=str(self.values["serviceUrl"]), token=(self.home / "token").read_text().strip(),
                             timeout=timeout)

    def component(self, name: str) -> adapter.ContainerInfo:
        """Return the (first) container of one environment service (management-agent, service, ...)."""
        found = adapter.containers_with_labels({"com.docker.compose.project": self.name, COMPONENT: name})
        assert found, f"no {name} container in project {self.name}"
        return sorted(found, key=lambda c: c.name)[0]

    def inspect(self, container: str, template: str) -> str:
        return subprocess.run(["docker", "inspect", "-f", template, container], capture_output=True, text=True,
                              check=True).stdout.strip()

    def crash(self, name: str) -> adapter.ContainerInfo:
        """SIGKILL a component's main process from the host, as a crash or the OOM killer would; return it."""
        container = self.component(name)
        pid = int(self.inspect(container.name, "{{.State.Pid}}"))
        assert pid > 0, f"{container.name} is not running"
        os.kill(pid, 9)
        return container

    def restarts(self, name: str) -> int:
        return int(self.inspect(self.component(name).name, "{{.RestartCount}}"))

    def health(self, name: str) -> str:
        return self.inspect(self.component(name).name, "{{if .State.Health}}{{.State.Health.Status}}{{end}}")

    def wait_healthy(self, name: str, timeout: float = 240) -> None:
        until(f"{name} to be healthy", lambda: self.health(name) == "healthy", timeout, every=0.5)

    def containers(self, deployment_id: str | None = None) -> list[adapter.ContainerInfo]:
        """Return the PPS containers of this stack (of one deployment when given)."""
        return adapter.containers_with_labels({"io.bosun-local.network": self.name,
                                               "io.bosun-local.deployment": deployment_id})

    def logs(self, name: str, tail: int = 60) -> str:
        return adapter.container_logs(self.component(name).name, tail=tail)

    def predict(self, deployment_id: str, row: dict[str, Any], timeout: float = 10.0) -> httpx.Response:
        return httpx.post(f"{self.web}/deployments/{deployment_id}/predictions", json=[row], timeout=timeout)


@contextmanager
def fault_stack(prefix: str = "bfault") -> Iterator[FaultStack]:
    """Bring the whole environment stack up on a tmpfs data dir; tear it all down after.

    BOSUN_FAULTS_HOME=<data dir of a stack this made> reuses that stack and leaves it up (while working on a fault).
    """
    reuse = os.environ.get("BOSUN_FAULTS_HOME")
    if reuse:
        values = yaml.safe_load((Path(reuse) / "bosun-local.yaml").read_text())
        yield FaultStack(Path(reuse), str(values["projectName"]), values)
        return
    name = f"{prefix}{os.getpid() % 100000}"
    home = world_readable_home(f"{name}-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m,mode=0755", f"{name}-data", str(home)],
                   check=True, capture_output=True)
    values = write_test_config(home, name)
    stack = FaultStack(home, name, values)
    try:
        up = stack.cli("up", "--wait", check=False, timeout=400)
        assert up.returncode == 0, f"bosun-local up failed:\n{up.stdout}\n{up.stderr}"
        yield stack
    finally:
        adapter.remove_containers([c.name for c in stack.containers()], timeout=2)
        stack.cli("down", "--volumes", check=False)
        for _ in range(20):  # a container that just exited may hold the mount a moment longer
            if subprocess.run(["umount", str(home)], capture_output=True).returncode == 0:
                break
            time.sleep(0.5)
        shutil.rmtree(home, ignore_errors=True)


def unique(name: str) -> str:
    """Return name with a random suffix (a reused stack keeps earlier runs' deployments)."""
    return f"{name}-{uuid.uuid4().hex[:6]}"
