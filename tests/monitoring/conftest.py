"""Fixtures of the monitoring-agent tests: a real service subprocess, a real broker, agents in and out of process."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bosun_local.client import ServiceClient, ServiceError
from bosun_local.monitoring.agent import MonitoringAgent
from bosun_local.monitoring.config import AgentConfig
from bosun_local.spool.transport import ChannelConfig
from tests.mlops.conftest import FIXTURE_SPOOL, start_rabbitmq
from tests.support.rabbitmq import RabbitMQBroker
from tests.support.service import running_service

__all__ = ["FIXTURE_SPOOL"]
WAIT_SEC = 90.0


@dataclass
class Service:
    """A running test service."""

    url: str
    token: str
    home: Path
    client: ServiceClient


@contextmanager
def start_service(home: Path, port: int | None = None) -> Iterator[Service]:
    """Run a service subprocess on a data dir (and port) and yield it with a client."""
    with running_service(home, port=port) as (url, token):
        client = ServiceClient(url, token)
        try:
            yield Service(url, token, home, client)
        finally:
            client.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service for the test module (tests use their own deployment ids)."""
    with start_service(tmp_path_factory.mktemp("service-home")) as svc:
        yield svc


@pytest.fixture(scope="session")
def broker(docker_engine: None) -> Iterator[RabbitMQBroker]:
    """A RabbitMQ broker container shared by the monitoring tests (each test uses its own queue)."""
    yield from start_rabbitmq("bosun-test-monitoring")


@pytest.fixture
def queue_name() -> str:
    """A queue no other test uses."""
    return f"mlops-mon-{uuid.uuid4().hex[:8]}"


def unique(prefix: str) -> str:
    """Return an id no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def fast_config(service: Service, channels: tuple[ChannelConfig, ...], **extra: object) -> AgentConfig:
    """Return an agent config with quick retries and polls, for tests."""
    values: dict[str, object] = {"retry_max_sec": 1.0, "heartbeat_interval_sec": 1.0,
                                 "status_poll_interval_sec": 1.0, **extra}
    return AgentConfig(service.url, service.token, channels, **values)  # type: ignore[arg-type]


@contextmanager
def agent_running(config: AgentConfig) -> Iterator[MonitoringAgent]:
    """Run an in-process agent for the with-block."""
    agent = MonitoringAgent(config)
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()
        agent.client.close()


def wait_until(check: Callable[[], bool], what: str, timeout: float = WAIT_SEC) -> None:
    """Poll check until it is true; fail naming what did not happen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stats(service: Service, deployment_id: str) -> dict:
    """Return a deployment's stats over the largest window."""
    return service.client.stats(deployment_id, window=90 * 86400)


def predictions(service: Service, deployment_id: str) -> int:
    """Return the predictions stored for a deployment, 0 before any (the service answers 404 then)."""
    try:
        return int(stats(service, deployment_id)["predictions"])
    except ServiceError as exc:
        if exc.status_code == 404:
            return 0
        raise


def agent_env(service: Service, **variables: str) -> dict[str, str]:
    """Return the environment of an agent subprocess configured by MLOPS_* variables only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "BOSUN_"))}
    env.update({"MLOPS_SERVICE_URL": service.url, "MLOPS_API_TOKEN": service.token,
                "BOSUN_HOME": str(service.home / "agent-home"), **variables})
    return env


def spawn_agent(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start `bosun-local monitor run` as a subprocess with its output in a log file."""
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "bosun_local", "monitor", "run", "--status-every", "1",
                                 *args], env=env, stdout=out, stderr=subprocess.STDOUT)
