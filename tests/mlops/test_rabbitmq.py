"""RabbitMQ spool against a real broker container: persistence, outages, overflow, the consumer helper."""
from __future__ import annotations

import logging
import time

import pika
import pytest

from bosun_local.contracts import records
from bosun_local.mlops import MLOps
from bosun_local.spool.rabbitmq.reader import (
    RabbitMQConsumer,
    kept_channel,
    queue_depth,
    queue_stats,
    read_dead_letters,
)
from bosun_local.spool.transport import QueueStats
from tests.support.rabbitmq import RabbitMQBroker, free_port

pytestmark = pytest.mark.docker


def rabbit_mlops(url: str, queue: str, config: str = "") -> MLOps:
    client = MLOps().set_deployment_id("dep-r").set_model_id("mod-r").set_rabbitmq_spooler(url, queue)
    if config:
        client.set_channel_config(config)
    return client.init()


def drain(url: str, queue: str, expect: int, max_batches: int = 200) -> list[records.Record]:
    """Consume and ack until expect records arrived or the queue stays empty."""
    got: list[records.Record] = []
    with RabbitMQConsumer(url, queue, prefetch=500) as consumer:
        for _ in range(max_batches):
            batch = consumer.get_batch(500, timeout_sec=2.0)
            if not batch:
                break
            assert all(d.record is not None for d in batch), [d.error for d in batch]
            got.extend(d.record for d in batch if d.record is not None)
            consumer.ack(batch)
            if len(got) >= expect:
                break
    return got


def test_round_trip_durable_queue_persistent_messages(rabbitmq_broker: RabbitMQBroker, queue_name: str) -> None:
    client = rabbit_mlops(rabbitmq_broker.url, queue_name)
    client.report_deployment_stats(3, 12.5)
    client.report_predictions_data({"x": [1.0, 2.0, 3.0]}, [0.1, 0.2, 0.3], ["a", "b", "c"])
    assert client.shutdown(timeout_sec=30) and client.delivered_records == 2
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_broker.url))
    method, props, body = conn.channel().basic_get(queue_name, auto_ack=False)
    conn.close()  # unacked: back to the queue
    assert method is not None and props.delivery_mode == 2 and records.parse(body).data_type == "DEPLOYMENT_STATS"
    # A broker restart keeps the queue and both messages.
    rabbitmq_broker.stop()
    rabbitmq_broker.start()
    stats, preds = drain(rabbitmq_broker.url, queue_name, 2)
    assert stats.data["numPredictions"] == 3 and stats.deployment_id == "dep-r" and stats.model_id == "mod-r"
    assert preds.data["features"] == {"x": [1.0, 2.0, 3.0]} and preds.data["associationIds"] == ["a", "b", "c"]


def test_broker_down_then_up_loses_nothing(
    rabbitmq_broker: RabbitMQBroker, queue_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bosun_local.mlops")
    client = rabbit_mlops(rabbitmq_broker.url, queue_name, "MLOPS_RABBITMQ_RECONNECT_MAX_SEC=1")
    for i in range(300):
        client.report_deployment_stats(i, 1.0)
    assert client._buffer is not None and client._buffer.wait_empty(30)
    rabbitmq_broker.stop()
    for i in range(300, 1000):
        client.report_deployment_stats(i, 1.0)  # returns at once: the broker is down
    assert client.pending_records == 700 and client.dropped_records == 0
    rabbitmq_broker.start()
    assert client.shutdown(timeout_sec=60), "every buffered record is confirmed after the reconnect"
    assert client.dropped_records == 0
    got = drain(rabbitmq_broker.url, queue_name, 1000)
    assert sorted({r.data["numPredictions"] for r in got}) == list(range(1000))
    assert len({r.id for r in got}) == 1000 and len(got) >= 1000  # at least once: duplicates share an id
    assert "unavailable" in caplog.text and "connected again" in caplog.text


def test_no_broker_overflow_is_counted_and_nothing_blocks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bosun_local.mlops")
    url = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"  # nothing listens there
    client = rabbit_mlops(url, "mlops", "buffer_size=100")
    for i in range(250):
        client.report_deployment_stats(i, 1.0)
    assert client.pending_records == 100 and client.dropped_records == 150
    assert not client.shutdown(timeout_sec=1)
    assert client.dropped_records == 250
    assert "buffer full" in caplog.text and "unavailable" in caplog.text and "lost" in caplog.text
    assert "guest:guest" not in caplog.text, "the password never reaches the log"


def test_consumer_batches_acks_requeues_and_dead_letters(rabbitmq_broker: RabbitMQBroker, queue_name: str) -> None:
    client = rabbit_mlops(rabbitmq_broker.url, queue_name)
    for i in range(10):
        client.report_deployment_stats(i, 1.0)
    assert client.shutdown(timeout_sec=30)
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_broker.url))
    conn.channel().basic_publish("", queue_name, b"{broken", pika.BasicProperties(delivery_mode=2))
    conn.close()
    assert queue_depth(rabbitmq_broker.url, queue_name) == 11
    assert queue_depth(rabbitmq_broker.url, "no-such-queue") == 0

    with RabbitMQConsumer(rabbitmq_broker.url, queue_name, prefetch=4) as consumer:
        first = consumer.get_batch(100, timeout_sec=5)
        assert len(first) == 4, "a batch never exceeds the prefetch window"
        consumer.requeue(first)  # e.g. the service was down: all four come back
        seen: list[int] = []
        rejected = []
        for _ in range(20):
            batch = consumer.get_batch(4, timeout_sec=2)
            if not batch:
                break
            for delivery in batch:
                if delivery.record is None:
                    rejected.append(delivery)
                    consumer.dead_letter(delivery, delivery.error)
                else:
                    seen.append(delivery.record.data["numPredictions"])
            consumer.ack(batch)
        assert consumer.queue_depth() == 0
    assert sorted(seen) == list(range(10))
    assert len(rejected) == 1 and rejected[0].error and rejected[0].error.startswith("not JSON")
    dead = read_dead_letters(rabbitmq_broker.url, queue_name)
    assert dead == [(b"{broken", rejected[0].error)]


def test_unacked_batch_of_a_killed_consumer_is_redelivered(rabbitmq_broker: RabbitMQBroker, queue_name: str) -> None:
    client = rabbit_mlops(rabbitmq_broker.url, queue_name)
    for i in range(5):
        client.report_deployment_stats(i, 1.0)
    assert client.shutdown(timeout_sec=30)
    crashed = RabbitMQConsumer(rabbitmq_broker.url, queue_name).connect()
    assert len(crashed.get_batch(10, timeout_sec=5)) == 5
    crashed.close()  # no ack, as when the agent is killed
    deadline = time.monotonic() + 10
    redelivered: list = []
    with RabbitMQConsumer(rabbitmq_broker.url, queue_name) as survivor:
        while len(redelivered) < 5 and time.monotonic() < deadline:
            redelivered += survivor.get_batch(10, timeout_sec=1)
        survivor.ack(redelivered)
    assert len(redelivered) == 5 and all(d.redelivered for d in redelivered)


def test_kept_queue_stats_reuse_one_channel_and_survive_a_broker_restart(rabbitmq_broker: RabbitMQBroker,
                                                                         queue_name: str) -> None:
    """The agent's every-2-s depth check: one channel kept open, a missing queue reads as zeros, a restart heals."""
    url = rabbitmq_broker.url
    assert queue_stats(url, queue_name, keep=True) == QueueStats(0, 0)  # no queue yet: the broker closed the channel
    client = rabbit_mlops(url, queue_name)
    client.report_deployment_stats(1, 1.0)
    assert client.shutdown(timeout_sec=30) and client.delivered_records == 1
    assert queue_stats(url, queue_name, keep=True) == QueueStats(1, 0)
    kept = kept_channel(url, 5.0)
    assert queue_stats(url, queue_name, keep=True) == QueueStats(1, 0) and kept_channel(url, 5.0) is kept
    rabbitmq_broker.stop()
    rabbitmq_broker.start()
    assert queue_stats(url, queue_name, keep=True) == QueueStats(1, 0)  # reconnected once, the message kept
    assert kept_channel(url, 5.0) is not kept
