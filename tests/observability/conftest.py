"""One environment stack with Prometheus and a deployment, shared by this directory's tests (it takes minutes)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bosun_local.config import load_defaults
from tests.agent.harness import BIN, world_readable_home
from tests.agent.packages import diabetes_package
from tests.conftest import free_port, write_test_config


@dataclass
class ObservedStack:
    """The stack's data dir, config values, its one deployment and Prometheus' URL."""

    home: Path
    name: str
    values: dict[str, object]
    deployment: dict[str, object]
    prometheus: str

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "BOSUN_HOME": str(self.home)}

    def cli(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        """Run `bosun-local ARGS` against this stack and return its stdout (failing with its output)."""
        proc = subprocess.run([str(BIN / "bosun-local"), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        assert proc.returncode == 0 or not check, \
            f"bosun-local {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout


@pytest.fixture(scope="package")
def observed_stack(stack_images: None) -> Iterator[ObservedStack]:
    """`bosun-local up --with prometheus` on its own project, network and ports, with one deployment."""
    defaults = load_defaults()
    name = f"bobs{os.getpid() % 100000}"
    home = world_readable_home(f"{name}-")
    # The containers read images from the data dir's config, not from this process' BOSUN_* variables.
    images = {key: os.environ.get(env, defaults[key]) for key, env in
              (("agentImage", "BOSUN_AGENT_IMAGE"), ("ppsBaseImage", "BOSUN_PPS_BASE_IMAGE"))}
    port = free_port()
    values = write_test_config(home, name, prometheusPortMapping=[f"127.0.0.1:{port}:9090"],
                               prometheusScrapeInterval="1s", **images)
    stack = ObservedStack(home, name, values, {}, f"http://127.0.0.1:{port}")
    try:
        up = json.loads(stack.cli("up", "--with", "prometheus", "--json"))
        assert up["urls"]["prometheus"] == stack.prometheus + "/"
        package = json.loads(stack.cli("packages", "register", str(diabetes_package(home / "package-src")),
                                       "--json"))
        stack.cli("deploy", package["id"], "--name", "observed", "--wait", "--json", check=False)
        deployment = json.loads(stack.cli("deployments", "show", "observed", "--json"))
        for _ in range(2):
            # On a loaded 2-core host the PPS's first start can outlast the plugin's healthcheck wait; what is
            # tested here is metrics, so a slow start gets another chance.
            if deployment["state"] == "ready":
                break
            stack.cli("deployments", "relaunch", "observed", "--wait", check=False)
            deployment = json.loads(stack.cli("deployments", "show", "observed", "--json"))
        assert deployment["state"] == "ready", deployment
        stack.deployment = deployment
        yield stack
    finally:
        subprocess.run([str(BIN / "bosun-local"), "down", "--volumes"], env=stack.env, capture_output=True,
                       timeout=300)
        shutil.rmtree(home, ignore_errors=True)
