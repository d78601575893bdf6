"""A real environment for agent tests: traefik from `bosun-local up`, the service and the agent as host processes."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bosun_local.agent.plugin_facts import plugin_facts
from bosun_local.client import ServiceClient
from bosun_local.config import load_config
from bosun_local.engine import adapter
from tests.conftest import write_test_config
from tests.support.service import running_service

BIN = Path(sys.executable).parent
TEST_ROOT = Path("/tmp/bosun-agent-tests")


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


@dataclass
class AgentEnv:
    """Everything one test module's stack runs: data dir, names, the service URL and the agent process."""

    home: Path
    name: str
    values: dict[str, Any]
    service_url: str = ""
    agent: subprocess.Popen[bytes] | None = None
    agent_log: Path = field(default_factory=Path)
    agent_args: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        # No service URL yet while `up` runs: an empty BOSUN_SERVICE_URL is a config error now.
        return {**os.environ, "BOSUN_HOME": str(self.home),
                **({"BOSUN_SERVICE_URL": self.service_url} if self.service_url else {})}

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

    def client(self) -> ServiceClient:
        return ServiceClient(url=self.service_url, token=(self.home / "token").read_text().strip())

    def plugin_config(self, environment_config: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
        """Return the pluginConfig the agent would pass: its host facts under the environment's own keys."""
        if environment_config is None:
            with self.client() as client:
                environment_config = client.get_environment("docker")["pluginConfig"]
        return {**plugin_facts(load_config(self.home)), **environment_config, **overrides}

    def start_agent(self) -> None:
        """Start `bosun-local agent run` as a host process logging to <home>/logs/agent-test.log."""
        self.agent_log = self.home / "logs" / "agent-test.log"
        self.agent_log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.agent_log, "ab") as log:
            self.agent = subprocess.Popen([str(BIN / "bosun-local"), "agent", "run", *self.agent_args], env=self.env,
                                          stdout=log, stderr=subprocess.STDOUT)

    def stop_agent(self, hard: bool = False) -> None:
        """Stop the agent: SIGKILL when hard (a crash), else SIGTERM and wait."""
        if self.agent is None or self.agent.poll() is not None:
            return
        self.agent.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
        try:
            self.agent.wait(90)
        except subprocess.TimeoutExpired:
            self.agent.kill()
            self.agent.wait(10)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.agent_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no agent log)"

    @property
    def web(self) -> str:
        return str(self.values["outfacingPredictionURLPrefix"])

    def containers(self, deployment_id: str | None = None) -> list[adapter.ContainerInfo]:
        """Return the PPS containers of this stack (of one deployment when given)."""
        labels: dict[str, str | None] = {"io.bosun-local.network": self.name,
                                         "io.bosun-local.deployment": deployment_id}
        return adapter.containers_with_labels(labels)

    def cleanup_containers(self) -> None:
        """Remove every PPS container this stack's tests made (labelled with its network)."""
        adapter.remove_containers([c.name for c in self.containers()], timeout=2)


@contextmanager
def agent_env(prefix: str, agent_args: list[str] | None = None, services: str = "traefik",
              **config: Any) -> Iterator[AgentEnv]:
    """Bring up traefik (own project, network and ports), the service and the agent; tear all down after."""
    name = f"{prefix}{os.getpid() % 100000}"
    home = world_readable_home(f"{name}-")
    values = write_test_config(home, name, **{"monitoringEnabled": False, **config})
    stack = AgentEnv(home, name, values, agent_args=agent_args or [])
    up = subprocess.run([str(BIN / "bosun-local"), "up", "--services", services], env=stack.env,
                        capture_output=True, text=True, timeout=300)
    try:
        assert up.returncode == 0, f"bosun-local up failed:\n{up.stdout}\n{up.stderr}"
        with running_service(home) as (url, _token):
            stack.service_url = url
            stack.start_agent()
            try:
                yield stack
            finally:
                stack.stop_agent()
                stack.cleanup_containers()
    finally:
        subprocess.run([str(BIN / "bosun-local"), "down", "--volumes"], env=stack.env, capture_output=True,
                       timeout=300)
        shutil.rmtree(home, ignore_errors=True)


def predict(url: str, row: dict[str, Any], timeout: float = 10.0) -> httpx.Response:
    """POST one JSON row to a prediction URL."""
    return httpx.post(url, json=[row], timeout=timeout)
