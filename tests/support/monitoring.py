"""Monitoring-agent test support shared by every spool's tests: a real service, agents in and out of process,
the report-then-check pair, and a moto SQS server.

    from tests.support.monitoring import report, assert_exact, fast_config, agent_running, wait_until

The fixtures (`service`, `sqs`, `aws`) are imported by tests/monitoring/conftest.py; everything else is plain
functions.
"""
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
from typing import Any

import pandas as pd
import pytest

from bosun_local.client import ServiceClient, ServiceError
from bosun_local.monitoring.agent import MonitoringAgent
from bosun_local.monitoring.config import AgentConfig
from bosun_local.spool.transport import ChannelConfig
from tests.mlops.conftest import FIXTURE_SPOOL
from tests.support.service import running_service
from tests.support.sqs import MotoServer, moto_server

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
def sqs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto SQS server for the session (each test makes its own queue)."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture
def aws(sqs: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """Point boto3's default client (datarobot-mlops creates one) at the moto server."""
    for key, value in sqs.aws_env().items():
        monkeypatch.setenv(key, value)
    return sqs


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


def report(mlops: Any, each: int, predictions_data: bool = True) -> None:
    """Report `each` stats records (2 predictions, every 10th a user error) and `each` prediction records of
    3 rows (either library: ours or datarobot-mlops)."""
    for i in range(each):
        mlops.report_deployment_stats(2, 7.0, user_error=i % 10 == 0)
    if predictions_data:
        frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "color": ["red", "blue", "red"]})
        for _ in range(each):
            mlops.report_predictions_data(frame, [0.5, 1.5, 2.5])


def assert_exact(service: Service, deployment_id: str, each: int, predictions_data: bool = True) -> None:
    """Check the figures of report(): nothing lost, nothing counted twice."""
    figures = stats(service, deployment_id)
    assert (figures["predictions"], figures["userErrors"]) == (2 * each, each // 10)
    if predictions_data:
        assert figures["predictionRows"] == 3 * each
        assert figures["predictionMean"] == 1.5
