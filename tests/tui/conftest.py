"""Fixtures for dashboard tests: a real service subprocess with packages, deployments and events."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from textual.pilot import Pilot

from bosun_local.client import ServiceClient
from bosun_local.tui.app import DashboardApp
from tests.support.service import free_port, running_service

CUSTOM_PY = '''\
def load_model(directory):
    return None


def score(data, model):
    return data["x"] * 2.0
'''


def write_tiny_package(directory: Path, name: str) -> Path:
    """Write a two-feature custom regression package with training data (for a drift baseline)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "custom.py").write_text(CUSTOM_PY)
    (directory / "model.yaml").write_text(
        f"name: {name}\ntargetName: y\ntargetType: regression\n"
        "features:\n  - {name: x, type: numeric}\n  - {name: colour, type: categorical}\n")
    rows = ["x,colour,y"] + [f"{i % 10},{'red' if i % 3 else 'blue'},{(i % 10) * 2}" for i in range(40)]
    (directory / "training.csv").write_text("\n".join(rows) + "\n")
    return directory


@dataclass
class Stack:
    """A running service with its client and what the fixture created in it."""

    url: str
    token: str
    home: Path
    port: int
    client: ServiceClient
    packages: dict[str, str] = field(default_factory=dict)
    deployments: dict[str, str] = field(default_factory=dict)

    def app(self, interval: float = 0.3) -> DashboardApp:
        """Return a dashboard on this service (its own client, as the CLI builds it)."""
        return DashboardApp(ServiceClient(self.url, self.token, timeout=5.0), interval=interval)


@contextmanager
def seeded_stack(tmp: Path) -> Iterator[Stack]:
    """Run a fresh service holding two packages, three deployments (one external) and a few events."""
    home = tmp / "home"
    port = free_port()
    with running_service(home, port=port) as (url, token):
        client = ServiceClient(url, token)
        s = Stack(url, token, home, port, client)
        for name in ("alpha-model", "beta-model"):
            package = client.register_package(write_tiny_package(tmp / name, name))
            s.packages[name] = package["id"]
        for name, package, external in (("churn", "alpha-model", False), ("fraud", "beta-model", False),
                                        ("pricing", "alpha-model", True)):
            created = client.create_deployment(s.packages[package], name, external=external)
            s.deployments[name] = created["deployment"]["id"]
        client.update_deployment_status(s.deployments["fraud"], state="errored", health_status="failing",
                                        message="container exited")
        client.update_deployment_status(s.deployments["pricing"], prediction_url="http://127.0.0.1:9/pricing",
                                        health_status="passing")
        client.post_event("drill", "warning", "latency above target on churn", deployment_id=s.deployments["churn"])
        client.post_event("drill", "failing", "churn stopped answering", deployment_id=s.deployments["churn"])
        client.post_event("drill", "passing", "pricing recovered", deployment_id=s.deployments["pricing"])
        try:
            yield s
        finally:
            client.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A seeded service of one's own, for tests that change it."""
    with seeded_stack(tmp_path) as s:
        yield s


@pytest.fixture(scope="session")
def readonly_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A seeded service shared by tests that only read it (they must not change it)."""
    with seeded_stack(tmp_path_factory.mktemp("readonly")) as s:
        yield s


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Let the app run until a condition holds; fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.05)
    assert condition(), f"timed out after {timeout:g}s waiting for {what}"


async def wait_polls(pilot: Pilot[None], app: DashboardApp, count: int = 1) -> None:
    """Wait until the app has applied `count` more polls."""
    target = app.polls_applied + count
    await wait_for(pilot, lambda: app.polls_applied >= target, f"{count} poll(s)")


def run(coro: object) -> None:
    """Run an async test body (no pytest-asyncio needed)."""
    asyncio.run(coro)  # type: ignore[arg-type]
