"""`bosun-local up` with `spool: sqs` (the moto image), end to end in one test: a deployment predicts, our
library reports through the stack's SQS queue, counts are exact, a poison message is dead-lettered and counted,
and the management agent's backlog scaler reads the queue's depth."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bosun_local.agent.backlog_scaler import ScalerPolicy
from bosun_local.agent.environment_watch import EnvironmentWatch
from bosun_local.agent.reporting import Reporter
from bosun_local.client import ServiceClient, ServiceError
from bosun_local.config import Config, load_config
from bosun_local.envstack.environment import EnvironmentStack
from bosun_local.mlops import MLOps
from bosun_local.monitoring.status_events import RECORDS_REJECTED
from bosun_local.spool.sqs.queues import ensure_queue, make_client, queue_stats
from tests.agent.harness import predict, until, world_readable_home
from tests.agent.packages import diabetes_package
from tests.conftest import write_test_config
from tests.support.monitoring import report
from tests.support.net import free_port

pytestmark = pytest.mark.docker
ROW = {"age": 30, "sex": 1, "bmi": 23, "bp": 100, "s1": 157, "s2": 70, "s3": 40, "s4": 4, "s5": 3, "s6": 88}
REQUESTS, EACH = 5, 50


def _figures(client: ServiceClient, deployment_id: str) -> dict:
    try:
        return client.stats(deployment_id, window=86400)
    except ServiceError as exc:
        if exc.status_code == 404:
            return {}
        raise


def test_sqs_stack_deploys_counts_exactly_dead_letters_poison_and_scales_by_queue_depth(
        stack_images: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = world_readable_home("sqsup-")
    write_test_config(home, f"blsqs{uuid.uuid4().hex[:6]}", spool="sqs",
                      sqsPortMapping=[f"127.0.0.1:{free_port()}:5000"])
    env = {**os.environ, "BOSUN_HOME": str(home)}
    monkeypatch.setenv("BOSUN_HOME", str(home))
    run = [sys.executable, "-m", "bosun_local"]
    # The moto image is built only for `spool: sqs` (cached by content hash after the first time).
    build = subprocess.run([*run, "images", "build"], env=env, capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stderr
    try:
        up = subprocess.run([*run, "up"], env=env, capture_output=True, text=True, timeout=600)
        assert up.returncode == 0, up.stderr
        config = load_config()
        url = EnvironmentStack(config).urls()["sqsQueue"]
        with ServiceClient(config=config) as client:
            package = client.register_package(diabetes_package(tmp_path / "pkg"), name="diabetes-sqs")
            created = client.create_deployment(package["id"], "sqs-up")["deployment"]
            dep = until("the in-stack agent to deploy", lambda: (d := client.get_deployment(created["id"]))["state"]
                        == "ready" and d, 300, every=1)
            predictions_url = f"{config['outfacingPredictionURLPrefix']}/deployments/{dep['id']}/predictions"
            for _ in range(REQUESTS):  # the PPS reports through RabbitMQ
                assert predict(predictions_url, ROW).status_code == 200
            mlops = MLOps().set_deployment_id(dep["id"]).set_model_id(dep["modelId"]).set_sqs_spooler(url).init()
            report(mlops, EACH)  # 2 * EACH predictions in stats records, 3 * EACH rows, through SQS
            assert mlops.shutdown(timeout_sec=120) and mlops.dropped_records == 0
            make_client(url).send_message(QueueUrl=url, MessageBody="not a record")  # type: ignore[attr-defined]

            until("every report counted", lambda: (f := _figures(client, dep["id"])).get("predictions")
                  == REQUESTS + 2 * EACH and f, 180, every=1)
            figures = _figures(client, dep["id"])
            assert (figures["predictionRows"], figures["userErrors"]) == (REQUESTS + 3 * EACH, EACH // 10)
            until("the poison message in the dead-letter queue", lambda: queue_stats(url).dead == 1, 120, every=1)
            events = until("its reject counted", lambda: [e for e in client.list_events(types=[RECORDS_REJECTED])
                                                          if "sqs" in e["message"].lower()], 60, every=1)
            assert sum(e["data"]["count"] for e in events) == 1
            assert queue_stats(url).depth == 0
            # The in-stack management agent reads the queue (its network address) through the spool registry.
            health = until("the SQS queue reported by the in-stack management agent",
                           lambda: (h := client.environment_health()).get("sqs", {}).get("status") == "passing"
                           and h, 60, every=1)
            assert isinstance(health["sqs"]["queueDepth"], int)  # reported each tick (the poison may still count)

            # A queue nobody reads: the scaler asks for one agent per 5 queued messages.
            idle = ensure_queue(url.rsplit("/", 2)[0], f"idle-{uuid.uuid4().hex[:6]}")
            sender = make_client(idle)
            for start in (0, 10):
                sender.send_message_batch(QueueUrl=idle, Entries=[  # type: ignore[attr-defined]
                    {"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, min(start + 10, 12))])
            watched = Config(config.data_dir, {**config.values, "sqsQueueUrl": idle})
            watch = EnvironmentWatch(watched, client, Reporter(client, "test-agent"))
            watch.scaler.policy = ScalerPolicy(per_agent=5, target_concurrency=3, cooldown_sec=0)
            watch.tick()
            assert watch.scaler.current == 3  # ceil((0 in RabbitMQ + 12 in SQS) / 5)
            assert watch.scaler.last["queueDepth"] == 12
            sender.purge_queue(QueueUrl=idle)  # type: ignore[attr-defined]
            watch.tick()
            assert watch.scaler.current == 1
    finally:
        subprocess.run([*run, "down", "--volumes"], env=env, capture_output=True, timeout=300)
