"""A real environment for agent tests: traefik from `bosun-local up`, the service and the agent as host processes."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bosun_local.agent.plugin_facts import plugin_facts
from bosun_local.config import load_config
from tests.conftest import write_test_config
from tests.support.service import running_service
from tests.support.stack import BIN, TestStack, predict, until, world_readable_home

__all__ = ["BIN", "AgentEnv", "agent_env", "predict", "until", "world_readable_home"]


@dataclass
class AgentEnv(TestStack):
    """Everything one test module's stack runs: data dir, names, the service URL and the agent process."""

    agent: subprocess.Popen[bytes] | None = None
    agent_log: Path = field(default_factory=Path)
    agent_args: list[str] = field(default_factory=list)

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

