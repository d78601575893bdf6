"""The full environment stack: the in-stack agent reports traefik and RabbitMQ; the backlog scales monitoring agents."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pika
import pytest

from bosun_local.agent.backlog_scaler import ScalerPolicy
from bosun_local.agent.environment_watch import MONITORING_SERVICE, EnvironmentWatch
from bosun_local.agent.reporting import Reporter
from bosun_local.client import ServiceClient
from bosun_local.config import Config, load_config
from bosun_local.engine import adapter
from bosun_local.envstack.environment import EnvironmentStack
from tests.agent.harness import predict, until, world_readable_home
from tests.agent.packages import diabetes_package
from tests.conftest import write_test_config

pytestmark = pytest.mark.docker
ROW = {"age": 30, "sex": 1, "bmi": 23, "bp": 100, "s1": 157, "s2": 70, "s3": 40, "s4": 4, "s5": 3, "s6": 88}


@pytest.fixture(scope="module")
def full_stack(stack_images: None) -> Iterator[Config]:
    home = world_readable_home("envwatch-")
    write_test_config(home, f"blenv{uuid.uuid4().hex[:6]}")
    env = {"BOSUN_HOME": str(home)}
    run = [sys.executable, "-m", "bosun_local"]
    mp = pytest.MonkeyPatch()
    mp.setenv("BOSUN_HOME", str(home))
    try:
        up = subprocess.run([*run, "up"], env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=600)
        assert up.returncode == 0, up.stderr
        yield load_config()
    finally:
        subprocess.run([*run, "down", "--volumes"], env={**os.environ, **env}, capture_output=True,
                       timeout=300)
        mp.undo()


def monitoring_replicas(stack: EnvironmentStack) -> int:
    return sum(1 for s in stack.project().ps() if s.service == MONITORING_SERVICE and s.status == "running")


def test_in_stack_agent_reports_traefik_and_rabbitmq(full_stack: Config) -> None:
    with ServiceClient(config=full_stack) as client:
        # The monitoring agent may subscribe a moment after `up` returns: until then RabbitMQ reads "warning".
        health = until("traefik and rabbitmq (with a consumer) reported by the in-stack management agent",
                       lambda: (h := client.environment_health()).get("traefik")
                       and h.get("rabbitmq", {}).get("status") == "passing" and h, 60)
    assert health["traefik"]["status"] == "passing"
    assert health["rabbitmq"]["status"] == "passing"  # the stack's monitoring agent consumes the queue
    assert health["rabbitmq"]["consumers"] >= 1  # the component's data is flattened into its entry
    assert health["rabbitmq"]["queueDepth"] >= 0


def test_backlog_scales_monitoring_agents_up_and_back_down(full_stack: Config, tmp_path: Path) -> None:
    # A queue nobody consumes, so the backlog stays put while the scaler reads it.
    queue = f"scaletest-{uuid.uuid4().hex[:6]}"
    config = Config(full_stack.data_dir, {**full_stack.values, "rabbitmqQueueName": queue})
    stack = EnvironmentStack(config)
    url = stack.rabbitmq_url(host_side=True)
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = conn.channel()
        channel.queue_declare(queue, durable=True)
        for i in range(1201):
            channel.basic_publish("", queue, f"{i}".encode())
        with ServiceClient(config=config) as client:
            watch = EnvironmentWatch(config, client, Reporter(client, "test-agent"))
            watch.scaler.policy = ScalerPolicy(per_agent=500, target_concurrency=4, cooldown_sec=0)
            assert monitoring_replicas(stack) == 1
            watch.tick()
            assert watch.scaler.current == 3  # ceil(1201 / 500)
            until("3 monitoring agents running", lambda: monitoring_replicas(stack) == 3, 120, every=1)
            events = client.list_events(types=["monitoring_agents_scaled"])
            assert any("1 -> 3" in e["message"] for e in events)
            channel.queue_purge(queue)
            watch.tick()
            until("back to 1 monitoring agent", lambda: monitoring_replicas(stack) == 1, 120, every=1)
    finally:
        if conn.is_open:
            conn.channel().queue_delete(queue)
            conn.close()


def test_down_stops_deployments_and_up_brings_them_back(full_stack: Config, tmp_path: Path) -> None:
    run = [sys.executable, "-m", "bosun_local"]
    env = {**os.environ, "BOSUN_HOME": str(full_stack.data_dir)}
    with ServiceClient(config=full_stack) as client:
        package = client.register_package(diabetes_package(tmp_path / "pkg"), name="diabetes-updown")
        created = client.create_deployment(package["id"], "updown")["deployment"]
        dep = until("the in-stack agent to deploy", lambda: (d := client.get_deployment(created["id"]))["state"]
                    == "ready" and d, 180, every=1)
    url = f"{full_stack['outfacingPredictionURLPrefix']}/deployments/{dep['id']}/predictions"
    assert predict(url, ROW).status_code == 200
    down = subprocess.run([*run, "down"], env=env, capture_output=True, text=True, timeout=300)
    assert down.returncode == 0, down.stderr
    assert "stopped 1 deployment container(s)" in down.stdout
    assert adapter.containers_with_labels({"io.bosun-local.deployment": dep["id"]}) == []
    assert not adapter.network_exists(full_stack["dockerNetwork"])
    up = subprocess.run([*run, "up"], env=env, capture_output=True, text=True, timeout=600)
    assert up.returncode == 0, up.stderr
    until("the deployment to answer again after up (agent reconcile)",
          lambda: _status(url) == 200, 180, every=1)


def _status(url: str) -> int:
    try:
        return predict(url, ROW, timeout=5).status_code
    except httpx.HTTPError:
        return 0
