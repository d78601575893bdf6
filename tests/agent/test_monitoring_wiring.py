"""With monitoring on, the agent's PPS containers report to the environment stack's RabbitMQ."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from bosun_local.engine import adapter
from tests.agent.harness import AgentEnv, agent_env, predict, until
from tests.agent.packages import ROW, diabetes_package

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stack(stack_images: None) -> Iterator[AgentEnv]:
    with agent_env("bagmon", agent_args=["--status-interval-sec", "1"], services="traefik,rabbitmq",
                   monitoringEnabled=True) as env:
        yield env


def queued(stack: AgentEnv) -> int:
    """Return how many records RabbitMQ's management API says were published to the mlops queue."""
    secrets = yaml.safe_load((stack.home / "secrets.yml").read_text())
    port = str(stack.values["rabbitmqPortMapping"][1]).split(":")[1]
    response = httpx.get(f"http://127.0.0.1:{port}/api/queues/%2F/mlops", timeout=10,
                         auth=(secrets["rabbitmqUser"], secrets["rabbitmqPassword"]))
    if response.status_code != 200:
        return 0
    return int((response.json().get("message_stats") or {}).get("publish", 0))


def test_predictions_reach_rabbitmq_and_a_dead_rabbitmq_warns(stack: AgentEnv, tmp_path: Path) -> None:
    package = stack.cli_json("packages", "register", str(diabetes_package(tmp_path / "m")))["id"]
    dep = stack.cli_json("deploy", package, "--name", "monitored", "--wait")["deployment"]
    (pps,) = stack.containers(dep["id"])
    for _ in range(10):
        assert predict(dep["predictionUrl"], ROW).status_code == 200
    # A batch's requests travel as one packed stats record and one predictions record (more if the ten requests
    # span batches): at least two records, whatever the timing.
    until("the PPS's records in RabbitMQ", lambda: queued(stack) >= 2, 60, every=1.0)

    (rabbitmq,) = [c.name for c in adapter.containers_with_labels(
        {"com.docker.compose.project": stack.name, "io.bosun-local.component": "rabbitmq"})]
    # Killed, as in a crash. (After a clean broker stop, which closes its clients' connections, the PPS's stop below
    # spends its whole grace period retrying its flush: 20 s more of test for the same warning.)
    subprocess.run(["docker", "kill", rabbitmq], check=True, capture_output=True, timeout=120)
    with stack.client() as client:
        warned = until("the environment warning", lambda: [
            e for e in client.list_events(types=["environment_status_changed"], statuses=["warning"])
            if "RabbitMQ" in e["message"]], 60)
    assert warned
    # A dead spool never fails a prediction.
    assert predict(dep["predictionUrl"], ROW).status_code == 200
    assert [c.name for c in stack.containers(dep["id"]) if c.healthy] == [pps.name]
    stack.cli("deployments", "stop", dep["id"], "--wait")
