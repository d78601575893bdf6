"""The agent on RabbitMQ against a real broker and service: exact counts through restarts, crashes and bad records."""
from __future__ import annotations

import signal
import time
from pathlib import Path

import pika
import pytest

from bosun_local.contracts import records
from bosun_local.mlops import MLOps
from bosun_local.monitoring.status_events import RECORDS_REJECTED
from bosun_local.spool.rabbitmq.config import RabbitChannelConfig
from bosun_local.spool.rabbitmq.reader import queue_depth, read_dead_letters
from bosun_local.spool.rabbitmq.writer import PERSISTENT, connection_parameters
from tests.support.monitoring import (
    FIXTURE_SPOOL,
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
from tests.support.rabbitmq import RabbitMQBroker

STATS_RECORDS = 5000
# Outage and sharing tests need a stream long enough to interrupt or share, not 10k records.
OUTAGE_RECORDS = 2000


def publish(broker: RabbitMQBroker, queue: str, bodies: list[bytes]) -> None:
    """Publish bodies to a durable queue as the libraries do: persistent messages, publisher confirms."""
    conn = pika.BlockingConnection(connection_parameters(broker.url))
    try:
        chan = conn.channel()
        chan.queue_declare(queue, durable=True)
        chan.confirm_delivery()
        props = pika.BasicProperties(delivery_mode=PERSISTENT, content_type="application/json")
        for body in bodies:
            chan.basic_publish("", queue, body, props)
    finally:
        conn.close()


def report_through(broker: RabbitMQBroker, queue: str, deployment_id: str, each: int = STATS_RECORDS) -> None:
    """Report through our library's RabbitMQ spooler (report()'s records) and check it delivered all."""
    mlops = MLOps().set_deployment_id(deployment_id).set_model_id("m1").set_rabbitmq_spooler(broker.url, queue).init()
    report(mlops, each)
    assert mlops.shutdown(timeout_sec=120), "the library delivered every record"
    assert mlops.dropped_records == 0


def rabbit(broker: RabbitMQBroker, queue: str) -> tuple[RabbitChannelConfig, ...]:
    return (RabbitChannelConfig(broker.url, queue),)


def test_datarobot_fixture_records_as_message_bodies(broker: RabbitMQBroker, queue_name: str,
                                                     service: Service) -> None:
    # The only test of this module (and its service) that uses the fixture's deployment and record ids.
    publish(broker, queue_name, (FIXTURE_SPOOL / "fs_spool.1").read_bytes().splitlines())
    with agent_running(fast_config(service, rabbit(broker, queue_name))) as agent:
        wait_until(lambda: agent.counters.stored == 5, "the 5 fixture records")
    regression, binary = stats(service, "dep-regression-1"), stats(service, "dep-binary-1")
    assert (regression["predictions"], regression["userErrors"], regression["predictionRows"]) == (4, 1, 3)
    assert (binary["predictions"], binary["predictionRows"]) == (2, 2)
    assert queue_depth(broker.url, queue_name) == 0


def test_library_to_agent_10k_records_exact(broker: RabbitMQBroker, queue_name: str, service: Service) -> None:
    dep = unique("dep-10k")
    report_through(broker, queue_name, dep)
    with agent_running(fast_config(service, rabbit(broker, queue_name))) as agent:
        wait_until(lambda: agent.counters.stored == 10_000, "10k records stored")
        assert agent.counters.duplicates == 0
    assert_exact(service, dep, STATS_RECORDS)


def test_competing_agents_share_one_queue(broker: RabbitMQBroker, queue_name: str, service: Service) -> None:
    dep = unique("dep-shared")
    channels = rabbit(broker, queue_name)
    with agent_running(fast_config(service, channels, prefetch=50, batch_max_records=50)) as one, \
            agent_running(fast_config(service, channels, prefetch=50, batch_max_records=50)) as two:
        report_through(broker, queue_name, dep, OUTAGE_RECORDS)
        wait_until(lambda: one.counters.stored + two.counters.stored == 2 * OUTAGE_RECORDS, "both agents to drain")
        assert one.counters.stored > 0 and two.counters.stored > 0
    assert_exact(service, dep, OUTAGE_RECORDS)


@pytest.mark.faults  # issue 17's fault suite (`make faults`)
def test_broker_restart_mid_stream_loses_and_doubles_nothing(broker: RabbitMQBroker, queue_name: str,
                                                              service: Service) -> None:
    dep = unique("dep-restart")
    report_through(broker, queue_name, dep, OUTAGE_RECORDS)
    config = fast_config(service, rabbit(broker, queue_name), prefetch=100, batch_max_records=10)
    with agent_running(config) as agent:
        wait_until(lambda: agent.counters.stored > 0, "the agent to start storing")
        broker.kill()  # abrupt: a clean stop takes seconds, long enough for the agent to finish
        assert agent.counters.stored < 2 * OUTAGE_RECORDS, "the restart came too late to be mid-stream"
        time.sleep(1.0)
        broker.start()
        wait_until(lambda: queue_depth(broker.url, queue_name) == 0 and agent.counters.stored >= 2 * OUTAGE_RECORDS,
                   "the queue to drain after the restart")
    assert_exact(service, dep, OUTAGE_RECORDS)


@pytest.mark.faults  # issue 17's fault suite (`make faults`)
def test_agent_kill_9_mid_stream_with_env_configuration(broker: RabbitMQBroker, queue_name: str, service: Service,
                                                        tmp_path: Path) -> None:
    dep = unique("dep-kill")
    report_through(broker, queue_name, dep, OUTAGE_RECORDS)
    env = agent_env(service, MLOPS_SPOOLER_TYPE="RABBITMQ", MLOPS_RABBITMQ_QUEUE_URL=broker.url,
                    MLOPS_RABBITMQ_QUEUE_NAME=queue_name)
    conf = tmp_path / "agent.yaml"
    conf.write_text("batchMaxRecords: 25\nprefetch: 100\nretryMaxSec: 1\n")
    first = spawn_agent(env, tmp_path / "agent-1.log", "--config", str(conf))
    try:
        wait_until(lambda: predictions(service, dep) > 0, "the first agent to store some records")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    assert queue_depth(broker.url, queue_name) > 0, "the kill came too late to be mid-stream"
    second = spawn_agent(env, tmp_path / "agent-2.log", "--config", str(conf))
    try:
        wait_until(lambda: queue_depth(broker.url, queue_name) == 0 and predictions(service, dep) == 2 * OUTAGE_RECORDS
                   and stats(service, dep)["predictionRows"] == 3 * OUTAGE_RECORDS, "the second agent to finish")
        time.sleep(1.0)  # a message stored twice would show now
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    assert second.returncode == 0
    assert_exact(service, dep, OUTAGE_RECORDS)
    heartbeats = [a for a in service.client.list_agents() if a["kind"] == "monitoring"]
    assert any(a["data"].get("stored", 0) > 0 for a in heartbeats)


def test_malformed_messages_are_dead_lettered_with_reasons_and_counted(broker: RabbitMQBroker, queue_name: str,
                                                                       service: Service) -> None:
    dep = unique("dep-dlq")
    good = [records.encode(f"{dep}-{i}", dep, records.DEPLOYMENT_STATS,
                           records.deployment_stats_data("m1", 1, 3.0)).encode() for i in range(20)]
    wrong_type = records.encode("wrong-1", dep, records.DEPLOYMENT_STATS, records.deployment_stats_data("m1", 1, 3.0))
    wrong_type = wrong_type.replace("DEPLOYMENT_STATS", "CUSTOM_EVENT").encode()
    bad = [b"\x00\xffnot json", b'{"header": {"id": "x"}}', wrong_type]
    publish(broker, queue_name, good[:10] + bad + good[10:])
    with agent_running(fast_config(service, rabbit(broker, queue_name))) as agent:
        wait_until(lambda: agent.counters.stored == 20 and agent.counters.rejected == 3, "20 stored, 3 rejected")
    assert predictions(service, dep) == 20
    dead = read_dead_letters(broker.url, queue_name)
    assert sorted(body for body, _ in dead) == sorted(bad)
    reasons = dict(dead)
    assert "not JSON" in reasons[bad[0]] and "deploymentId" in reasons[bad[1]] and "CUSTOM_EVENT" in reasons[bad[2]]
    events = [e for e in service.client.list_events(types=[RECORDS_REJECTED]) if queue_name in e["message"]]
    assert sum(e["data"]["count"] for e in events) == 3
    assert queue_depth(broker.url, queue_name) == 0
