"""Shared fixtures: the real Docker engine (a failure under CI=true, a skip elsewhere) and isolated data dirs."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.net import free_port

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """Fail under CI (a green run must mean the stack really ran), skip elsewhere."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing engine or image is a failure, never a skip)")
    pytest.skip(reason)


# Fixtures that need the Docker engine: a test using one (directly or through another fixture) is a
# `docker` test, so `pytest -m "not docker"` runs without an engine.
ENGINE_FIXTURES = frozenset({"docker_engine", "stack_images"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test whose fixtures need the engine with `docker`."""
    for item in items:
        if ENGINE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Require a reachable Docker engine with the Compose plugin."""
    from bosun_local.engine import provision

    need(provision.engine_reachable(), "no Docker engine reachable (run `make test`, which starts one)")
    need(provision.compose_available(), "the Docker Compose plugin is missing (run `bosun-local engine ensure`)")


@pytest.fixture(scope="session")
def stack_images(docker_engine: None) -> None:
    """Require the images `bosun-local images build` makes."""
    from bosun_local.config import load_defaults
    from bosun_local.engine import adapter

    defaults = load_defaults()
    for key in ("traefikImage", "rabbitmqImage", "agentImage"):
        need(adapter.image_exists(defaults[key]), f"image {defaults[key]} is missing (run `bosun-local images build`)")


def write_test_config(home: Path, name: str, **extra: object) -> dict[str, object]:
    """Write a bosun-local.yaml that keeps a test stack apart from a user's: own project, network and ports."""
    ports = {k: free_port() for k in ("web", "amqp", "mgmt", "service")}
    values: dict[str, object] = {
        "projectName": name,
        "dockerNetwork": name,
        "traefikPortMapping": [f"127.0.0.1:{ports['web']}:80"],
        "rabbitmqPortMapping": [f"127.0.0.1:{ports['amqp']}:5672", f"127.0.0.1:{ports['mgmt']}:15672"],
        "servicePortMapping": [f"127.0.0.1:{ports['service']}:8765"],
        "outfacingPredictionURLPrefix": f"http://127.0.0.1:{ports['web']}",
        "serviceUrl": f"http://127.0.0.1:{ports['service']}",
        "containerNamePrefix": f"{name}_",
        # Tests look at per-deployment containers unless they ask for the shared pool (tests/agent/test_shared_pool.py).
        "servingMode": "dedicated",
        **extra,
    }
    home.mkdir(parents=True, exist_ok=True)
    (home / "bosun-local.yaml").write_text(yaml.safe_dump(values))
    return values


@pytest.fixture
def bosun_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point BOSUN_HOME at a fresh temporary data dir."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("BOSUN_HOME", str(home))
    yield home
