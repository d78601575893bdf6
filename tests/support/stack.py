"""Test stacks on the real engine: one data dir + project with its CLI, client and PPS containers, and the whole
environment stack (every component in its container) that the fault scenarios share and break on purpose."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bosun_local.client import ServiceClient
from bosun_local.engine import adapter
from tests.conftest import write_test_config

BIN = Path(sys.executable).parent
TEST_ROOT = Path("/tmp/bosun-agent-tests")
COMPONENT = "io.bosun-local.component"


def until(what: str, check: Callable[[], Any], timeout: float, every: float = 0.25) -> Any:
    """Poll check() until it returns something truthy; fail naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


def world_readable_home(prefix: str) -> Path:
    """Return a fresh data dir the containers' non-root user can traverse (pytest's tmp_path is 0700)."""
    TEST_ROOT.mkdir(mode=0o755, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix=prefix, dir=TEST_ROOT))
    home.chmod(0o755)
    return home


def unique(name: str) -> str:
    """Return name with a random suffix (a reused stack keeps earlier runs' deployments)."""
    return f"{name}-{uuid.uuid4().hex[:6]}"


def predict(url: str, row: dict[str, Any], timeout: float = 10.0) -> httpx.Response:
    """POST one JSON row to a prediction URL."""
    return httpx.post(url, json=[row], timeout=timeout)


@dataclass
class TestStack:
    """One test stack: its data dir, project name, config values and (when not the config's) the service URL."""

    __test__ = False  # a helper, not a test class

    home: Path
    name: str
    values: dict[str, Any]
    service_url: str = ""

    @property
    def env(self) -> dict[str, str]:
        # An empty BOSUN_SERVICE_URL is a config error: set it only when the service is not where the config says.
        return {**os.environ, "BOSUN_HOME": str(self.home),
                **({"BOSUN_SERVICE_URL": self.service_url} if self.service_url else {})}

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
        return ServiceClient(url=self.service_url or str(self.values["serviceUrl"]),
                             token=(self.home / "token").read_text().strip(), timeout=timeout)

    def containers(self, deployment_id: str | None = None) -> list[adapter.ContainerInfo]:
        """Return the PPS containers of this stack (of one deployment when given)."""
        labels: dict[str, str | None] = {"io.bosun-local.network": self.name,
                                         "io.bosun-local.deployment": deployment_id}
        return adapter.containers_with_labels(labels)

    def cleanup_containers(self) -> None:
        """Remove every PPS container this stack's tests made (labelled with its network)."""
        adapter.remove_containers([c.name for c in self.containers()], timeout=2)

    def predict(self, deployment_id: str, row: dict[str, Any], timeout: float = 10.0) -> httpx.Response:
        return predict(f"{self.web}/deployments/{deployment_id}/predictions", row, timeout)


@dataclass
class WholeStack(TestStack):
    """The whole environment stack (`up --wait`), with helpers to break its components on purpose."""

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

    def wait_restarted(self, name: str, restarts_before: int, timeout: float = 240) -> None:
        """Wait until the restart policy has started a component again and its new run is healthy."""
        # Right after a kill the engine may still report the old run's "healthy": the restart count tells runs apart.
        until(f"{name} to be restarted and healthy",
              lambda: self.restarts(name) > restarts_before and self.health(name) == "healthy", timeout, every=0.5)

    def logs(self, name: str, tail: int = 60) -> str:
        return adapter.container_logs(self.component(name).name, tail=tail)


@contextmanager
def whole_stack(prefix: str, tmpfs_mb: int | None = None, **config: Any) -> Iterator[WholeStack]:
    """Bring the whole environment stack up (its data dir on a tmpfs of tmpfs_mb when given); tear it down after.

    BOSUN_FAULTS_HOME=<data dir of a stack this made> reuses that stack and leaves it up (while working on a fault).
    """
    reuse = os.environ.get("BOSUN_FAULTS_HOME")
    if reuse:
        values = yaml.safe_load((Path(reuse) / "bosun-local.yaml").read_text())
        yield WholeStack(Path(reuse), str(values["projectName"]), values)
        return
    name = f"{prefix}{os.getpid() % 100000}"
    home = world_readable_home(f"{name}-")
    if tmpfs_mb:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={tmpfs_mb}m,mode=0755", f"{name}-data", str(home)],
                       check=True, capture_output=True)
    # The fault tests watch Docker's own health through kills and restarts (wait_healthy, wait_restarted): probe
    # as often as the stack did before envProbeIntervalSec, so each wait is not 30 s of probe cadence.
    config = {"envProbeIntervalSec": 2, **config}
    stack = WholeStack(home, name, write_test_config(home, name, **config))
    try:
        up = stack.cli("up", "--wait", check=False, timeout=600)
        assert up.returncode == 0, f"bosun-local up failed:\n{up.stdout}\n{up.stderr}"
        yield stack
    finally:
        stack.cleanup_containers()
        stack.cli("down", "--volumes", check=False)
        for _ in range(20 if tmpfs_mb else 0):  # a container that just exited may hold the mount a moment longer
            if subprocess.run(["umount", str(home)], capture_output=True).returncode == 0:
                break
            time.sleep(0.5)
        shutil.rmtree(home, ignore_errors=True)
