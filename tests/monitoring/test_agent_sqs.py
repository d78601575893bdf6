"""SQS spool against a real moto server and service: both libraries' writers, exact counts, kills, poison messages."""
from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from bosun_local.client import ServiceClient
from bosun_local.contracts import records
from bosun_local.mlops import MLOps
from bosun_local.monitoring.agent import MonitoringAgent
from bosun_local.spool.sqs.config import SqsChannelConfig
from bosun_local.spool.sqs.queues import make_client, queue_stats
from tests.mlops.reference import reference
from tests.support.monitoring import (
    Service,
    agent_env,
    agent_running,
    assert_exact,
    fast_config,
    predictions,
    report,
    spawn_agent,
    stats,
    unique,
    wait_until,
)
from tests.support.sqs import MotoServer

EACH = 1000


def channel(url: str, visibility: int = 120) -> tuple[SqsChannelConfig, ...]:
    return (SqsChannelConfig(url, "sqs", visibility),)


def test_datarobot_mlops_sqs_spooler_to_our_agent_exact(aws: MotoServer, service: Service) -> None:
    mlops_mod, _event = reference()
    dep, url, each = unique("dep-drsqs"), aws.queue("dr"), 100
    lib = mlops_mod.MLOps().set_deployment_id(dep).set_model_id("m1").set_sqs_spooler(url).init()
    report(lib, each)
    lib.shutdown()
    assert queue_stats(url).depth == 2 * each  # datarobot-mlops sends one record per message
    with agent_running(fast_config(service, channel(url))) as agent:
        wait_until(lambda: agent.counters.stored == 2 * each, f"{2 * each} records stored")
        # Nothing delivered twice: unpatched moto could hand one message to two of the agent's parallel receives
        # (bosun_local/spool/sqs/local_server.py); the service would count a record id once either way.
        assert agent.counters.rejected == 0 and agent.counters.duplicates == 0
    assert_exact(service, dep, each)
    assert queue_stats(url).depth == 0


def test_our_sqs_writer_by_setter_and_env_to_agent_exact(aws: MotoServer, service: Service,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    dep, url = unique("dep-sqs"), aws.queue("ours")
    mlops = MLOps().set_deployment_id(dep).set_model_id("m1").set_sqs_spooler(url).init()
    report(mlops, EACH)
    assert mlops.shutdown(timeout_sec=120) and mlops.dropped_records == 0
    monkeypatch.setenv("MLOPS_SPOOLER_TYPE", "SQS")
    monkeypatch.setenv("MLOPS_SQS_QUEUE_URL", url)
    monkeypatch.setenv("MLOPS_SQS_MAX_RECORDS_PER_MESSAGE", "1")
    by_env = MLOps().set_deployment_id(dep).set_model_id("m1").init()
    by_env.report_deployment_stats(3, 7.0)
    assert by_env.shutdown(timeout_sec=60)
    depth = queue_stats(url).depth
    assert 1 < depth < 2 * EACH  # packed: many records per message; the env-configured one sent alone
    with agent_running(fast_config(service, channel(url))) as agent:
        wait_until(lambda: agent.counters.stored == 2 * EACH + 1, f"{2 * EACH + 1} records stored")
    figures = stats(service, dep)
    assert (figures["predictions"], figures["userErrors"], figures["predictionRows"]) == (2 * EACH + 3, EACH // 10,
                                                                                          3 * EACH)


def test_poison_goes_to_the_dead_letter_queue_by_redrive_and_is_counted_once(sqs: MotoServer,
                                                                             service: Service) -> None:
    dep, url = unique("dep-poison"), sqs.queue("poison", max_receive=2)
    good = [records.encode(f"{dep}-{i}", dep, records.DEPLOYMENT_STATS, records.deployment_stats_data("m1", 1, 3.0))
            for i in range(20)]
    client = make_client(url)
    # A compressed body (`z:`, our writer's) that is not base64 of zlib is poison as a whole.
    bodies = ["\n".join(good[:10]), "not json at all", '{"header": {"id": "x"}}', good[10] + "\n{broken",
              "z:bm90IHpsaWI=", *good[11:]]
    for body in bodies:
        client.send_message(QueueUrl=url, MessageBody=body)  # type: ignore[attr-defined]
    with agent_running(fast_config(service, channel(url))) as agent:
        wait_until(lambda: queue_stats(url).dead == 4 and agent.counters.rejected == 4,
                   "4 poison messages in the dead-letter queue, each counted once")
        time.sleep(1.0)
        assert agent.counters.rejected == 4
    assert predictions(service, dep) == 20  # the good record beside a broken line is stored (once)
    assert queue_stats(url).depth == 0


def test_agent_killed_mid_batch_loses_nothing(sqs: MotoServer, service: Service, tmp_path: Path) -> None:
    dep, url = unique("dep-sqskill"), sqs.queue("kill", visibility_timeout_sec=3)
    mlops = MLOps().set_deployment_id(dep).set_model_id("m1").set_sqs_spooler(url)
    mlops.set_channel_config("MLOPS_SQS_MAX_RECORDS_PER_MESSAGE=20").init()
    report(mlops, EACH)
    assert mlops.shutdown(timeout_sec=120)
    env = agent_env(service, MLOPS_SPOOLER_TYPE="SQS", MLOPS_SQS_QUEUE_URL=url, MLOPS_SQS_VISIBILITY_TIMEOUT_SEC="3",
                    **sqs.aws_env())
    conf = tmp_path / "agent.yaml"
    # Small batches and a quick look: the first agent must still be mid-stream when it is killed (with batches of
    # 40 it once drained the whole queue between two 0.2 s polls).
    conf.write_text("batchMaxRecords: 10\nretryMaxSec: 1\n")
    first = spawn_agent(env, tmp_path / "agent-1.log", "--config", str(conf))
    try:
        deadline = time.monotonic() + 60
        while predictions(service, dep) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert predictions(service, dep) > 0, "the first agent stored nothing within 60 s"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    left = queue_stats(url)
    assert left.depth + left.in_flight > 0, "the kill came too late to be mid-stream"
    second = spawn_agent(env, tmp_path / "agent-2.log", "--config", str(conf))
    try:
        wait_until(lambda: predictions(service, dep) == 2 * EACH and stats(service, dep)["predictionRows"] == 3 * EACH,
                   "the second agent to finish")
        time.sleep(4.0)  # past the visibility timeout: a message stored twice would show now
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    assert second.returncode == 0
    assert_exact(service, dep, EACH)
    assert queue_stats(url).depth == 0


class SlowFirstIngest(ServiceClient):
    """A real client whose first ingest waits `delay` seconds first: a slow batch, made on purpose."""

    def __init__(self, service: Service, delay: float) -> None:
        super().__init__(service.url, service.token)
        self.delay = delay
        self.started = threading.Event()
        self.slept = threading.Event()

    def ingest(self, records: list[dict]) -> dict:
        if not self.started.is_set():
            self.started.set()
            time.sleep(self.delay)
            self.slept.set()
        return super().ingest(records)


def test_a_slow_batch_keeps_its_messages_invisible_by_extending_their_timeout(sqs: MotoServer,
                                                                               service: Service) -> None:
    dep, url = unique("dep-slow"), sqs.queue("slow", visibility_timeout_sec=6)
    client = make_client(url)
    for m in range(3):
        body = "\n".join(records.encode(f"{dep}-{m}-{i}", dep, records.DEPLOYMENT_STATS,
                                        records.deployment_stats_data("m1", 1, 3.0)) for i in range(5))
        client.send_message(QueueUrl=url, MessageBody=body)  # type: ignore[attr-defined]
    slow = SlowFirstIngest(service, delay=16.0)
    agent = MonitoringAgent(fast_config(service, channel(url, visibility=6)), client=slow)
    agent.start()
    try:
        assert slow.started.wait(60), "the agent never posted its first batch"
        start, looks = time.monotonic(), 0
        # 2.5 visibility timeouts while the batch is held: not one of its messages may become visible again.
        while not slow.slept.is_set():
            left = queue_stats(url)
            if not slow.slept.is_set():
                assert (left.depth, left.in_flight) == (0, 3), left
                looks += 1
            time.sleep(0.3)
        assert looks >= 3 and time.monotonic() - start > 12, "the slow batch was not watched long enough"
        wait_until(lambda: agent.counters.stored == 15, "the slow batch to be stored")
        assert agent.counters.duplicates == 0
    finally:
        agent.stop()
        slow.close()
    assert predictions(service, dep) == 15 and queue_stats(url).depth == 0
