"""RabbitMQ consumer helper for the monitoring agent: batches, multi-ack after storing, dead letters.

Usage (at least once: ack only after the service has stored the batch)::

    with RabbitMQConsumer(url, "mlops", prefetch=1000) as consumer:
        while running:
            batch = consumer.get_batch(max_messages=1000, timeout_sec=1.0)
            good = [d.record for d in batch if d.record is not None]
            for bad in (d for d in batch if d.record is None):
                consumer.dead_letter(bad, bad.error)
            store(good)
            consumer.ack(batch)          # one multi-ack up to the batch's last delivery tag
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from bosun_local.contracts import records
from bosun_local.contracts.rabbitmq import PPS_EXCHANGE, dead_letter_queue, masked_url
from bosun_local.errors import BosunError
from bosun_local.spool.rabbitmq.config import RabbitChannelConfig
from bosun_local.spool.rabbitmq.writer import PERSISTENT, QUEUE_ARGUMENTS, connection_parameters
from bosun_local.spool.source import Batch, Rejected, Source, SourceUnavailable, parse_record
from bosun_local.spool.transport import QueueStats

log = logging.getLogger("bosun_local.monitoring")

REASON_HEADER = "x-bosun-reason"
SOURCE_HEADER = "x-bosun-source-queue"
DEAD_AT_HEADER = "x-bosun-dead-lettered-at"
# A batch returns early once messages stop arriving for this long.
_IDLE_SEC = 0.05


class ConsumerConnectionError(BosunError):
    """The RabbitMQ connection of a consumer failed; call reconnect() (unacked messages are redelivered)."""


@dataclass(slots=True)
class Delivery:
    """One message: its delivery tag, body, and the parsed record or the reason it could not be parsed."""

    delivery_tag: int
    body: bytes
    redelivered: bool
    record: records.Record | None
    error: str | None


def publisher_mismatch(record: records.Record, exchange: str, routing_key: str, user_id: str | None) -> str | None:
    """Return why a record published through the deployments' exchange is forged, or None when it is not.

    The broker lets each deployment's user publish there only with its own deployment id as routing key (topic
    permissions) and checks user_id against the login, so the routing key says who published. Records on the
    default exchange come from users with write rights to the queue itself: the stack's own, trusted.
    """
    if exchange != PPS_EXCHANGE:
        return None
    if record.deployment_id != routing_key:
        return (f"record {record.id} claims deployment {record.deployment_id} but was published by broker user "
                f"{user_id or '(not given)'} for deployment {routing_key}: rejected as forged")
    return None


class RabbitMQConsumer:
    """Consumes one durable queue with a prefetch window; parses each body as a spool record."""

    def __init__(
        self, url: str, queue_name: str = "mlops", prefetch: int = 1000, dead_letter_queue_name: str | None = None
    ) -> None:
        self.url = url
        self.queue_name = queue_name
        self.prefetch = max(1, prefetch)
        self.dead_queue = dead_letter_queue_name or dead_letter_queue(queue_name)
        self._conn: pika.BlockingConnection | None = None
        self._chan: pika.adapters.blocking_connection.BlockingChannel | None = None
        self._pending: deque[tuple[int, bytes, bool, str, str, str | None]] = deque()

    def _fail(self, action: str, exc: Exception) -> ConsumerConnectionError:
        self._drop_connection()
        return ConsumerConnectionError(
            f"RabbitMQ {masked_url(self.url)} queue {self.queue_name!r}: {action} failed: {exc!r}",
            fix="check that RabbitMQ is running and the URL and credentials are right; the consumer can reconnect()",
        )

    def connect(self) -> RabbitMQConsumer:
        """Open the connection, declare both queues (durable), set the prefetch window and start consuming."""
        try:
            self._conn = pika.BlockingConnection(connection_parameters(self.url))
            chan = self._conn.channel()
            chan.queue_declare(self.queue_name, durable=True, arguments=QUEUE_ARGUMENTS)
            chan.queue_declare(self.dead_queue, durable=True)
            chan.exchange_declare(PPS_EXCHANGE, exchange_type="topic", durable=True)
            chan.queue_bind(self.queue_name, PPS_EXCHANGE, routing_key="#")
            chan.basic_qos(prefetch_count=self.prefetch)
            chan.confirm_delivery()  # dead letters are published before the original is acked
            chan.basic_consume(self.queue_name, self._on_message, auto_ack=False)
            self._chan = chan
        except (pika.exceptions.AMQPError, OSError) as exc:
            raise self._fail("connect", exc) from exc
        return self

    def reconnect(self) -> RabbitMQConsumer:
        """Drop the connection (unacked messages return to the queue) and connect again."""
        self._drop_connection()
        return self.connect()

    def _drop_connection(self) -> None:
        self._pending.clear()
        conn, self._conn, self._chan = self._conn, None, None
        if conn is not None and conn.is_open:
            try:
                conn.close()
            except (pika.exceptions.AMQPError, OSError):
                pass

    def _on_message(self, _chan: object, method: pika.spec.Basic.Deliver, props: pika.BasicProperties,
                    body: bytes) -> None:
        self._pending.append((method.delivery_tag, body, bool(method.redelivered), str(method.exchange or ""),
                              str(method.routing_key or ""), props.user_id))

    def get_batch(self, max_messages: int = 1000, timeout_sec: float = 1.0) -> list[Delivery]:
        """Return up to max_messages deliveries (capped at the prefetch), waiting at most timeout_sec."""
        if self._conn is None:
            self.connect()
        assert self._conn is not None
        limit = min(max_messages, self.prefetch)
        deadline = time.monotonic() + timeout_sec
        try:
            while len(self._pending) < limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                before = len(self._pending)
                # Nothing yet: one wait that the first delivery ends (pika returns on it), not a wake-up every
                # _IDLE_SEC; once messages flow, short slices tell when they stop.
                self._conn.process_data_events(time_limit=min(left, _IDLE_SEC) if before else left)
                if self._pending and len(self._pending) == before:
                    break
        except (pika.exceptions.AMQPError, OSError) as exc:
            raise self._fail("receive", exc) from exc
        batch: list[Delivery] = []
        while self._pending and len(batch) < limit:
            tag, body, redelivered, exchange, routing_key, user_id = self._pending.popleft()
            try:
                record = parse_record(body)
                forged = publisher_mismatch(record, exchange, routing_key, user_id)
                if forged:
                    batch.append(Delivery(tag, body, redelivered, None, forged))
                    continue
                batch.append(Delivery(tag, body, redelivered, record, None))
            except records.RecordError as exc:
                batch.append(Delivery(tag, body, redelivered, None, exc.reason))
        return batch

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge every delivery up to the last one of the batch with one multi-ack."""
        if deliveries:
            self._settle("ack", max(d.delivery_tag for d in deliveries), requeue=False)

    def requeue(self, deliveries: Sequence[Delivery]) -> None:
        """Return every delivery up to the last one to the queue (e.g. the service could not store them)."""
        if deliveries:
            self._settle("nack", max(d.delivery_tag for d in deliveries), requeue=True)

    def _settle(self, kind: str, tag: int, requeue: bool) -> None:
        if self._chan is None:
            raise ConsumerConnectionError(
                f"cannot {kind} on queue {self.queue_name!r}: not connected",
                fix="reconnect(); unacked messages are redelivered",
            )
        try:
            if kind == "ack":
                self._chan.basic_ack(delivery_tag=tag, multiple=True)
            else:
                self._chan.basic_nack(delivery_tag=tag, multiple=True, requeue=requeue)
        except (pika.exceptions.AMQPError, OSError) as exc:
            raise self._fail(kind, exc) from exc

    def dead_letter(self, delivery: Delivery, reason: str | None) -> None:
        """Publish a delivery's body to the dead-letter queue with the reason in a header (confirmed).

        The original stays unacked: acknowledge it with the rest of its batch.
        """
        if self._chan is None:
            raise ConsumerConnectionError(
                f"cannot dead-letter to {self.dead_queue!r}: not connected", fix="reconnect()"
            )
        headers = {
            REASON_HEADER: (reason or "rejected")[:2000],
            SOURCE_HEADER: self.queue_name,
            DEAD_AT_HEADER: datetime.now(UTC).isoformat(),
        }
        props = pika.BasicProperties(delivery_mode=PERSISTENT, content_type="application/json", headers=headers)
        try:
            self._chan.basic_publish("", self.dead_queue, delivery.body, props)
        except (pika.exceptions.AMQPError, OSError) as exc:
            raise self._fail("dead-letter publish", exc) from exc

    def idle(self, seconds: float) -> None:
        """Wait while holding a batch, serving broker heartbeats (new deliveries wait for the next get_batch)."""
        if self._conn is None:
            time.sleep(seconds)
            return
        try:
            self._conn.sleep(seconds)
        except (pika.exceptions.AMQPError, OSError) as exc:
            raise self._fail("idle", exc) from exc

    def queue_depth(self) -> int:
        """Return the number of ready (not yet delivered) messages in the queue."""
        if self._chan is None:
            self.connect()
        assert self._chan is not None
        try:
            return self._chan.queue_declare(self.queue_name, durable=True, passive=True).method.message_count
        except (pika.exceptions.AMQPError, OSError) as exc:
            raise self._fail("queue depth", exc) from exc

    def close(self) -> None:
        """Close the connection; unacked messages return to the queue."""
        self._drop_connection()

    def __enter__(self) -> RabbitMQConsumer:
        return self.connect() if self._conn is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class RabbitSource(Source):
    """A RabbitMQ queue shared with other agents: prefetch window, multi-ack, `<queue>.dead` for rejects."""

    def __init__(self, config: RabbitChannelConfig, prefetch: int) -> None:
        self.config = config
        self.name = config.describe()
        self.rejects_to = f"dead-letter queue {config.dead_letter_queue!r}"
        self.consumer = RabbitMQConsumer(config.queue_url, config.queue_name, prefetch=prefetch,
                                         dead_letter_queue_name=config.dead_letter_queue)

    def fetch(self, max_records: int, timeout_sec: float) -> Batch:
        try:
            deliveries = self.consumer.get_batch(max_records, timeout_sec)
        except ConsumerConnectionError as exc:
            raise SourceUnavailable(exc.message) from exc
        batch = Batch(token=deliveries)
        for d in deliveries:
            if d.record is not None:
                batch.records.append(d.record)
            else:
                batch.rejects.append(Rejected(d.body, d.error or "rejected", d))
        return batch

    def set_aside(self, batch: Batch) -> None:
        try:
            for reject in batch.rejects:
                delivery = reject.ref if isinstance(reject.ref, Delivery) else self._find(batch, reject)
                self.consumer.dead_letter(delivery, reject.reason)
        except ConsumerConnectionError as exc:
            raise SourceUnavailable(exc.message) from exc

    @staticmethod
    def _find(batch: Batch, reject: Rejected) -> Delivery:
        """Return the delivery of a record rejected after parsing (by its record id)."""
        for d in batch.token:
            if d.record is not None and d.record.id == reject.ref:
                return d
        raise LookupError(f"no delivery for rejected record {reject.ref}")

    def commit(self, batch: Batch) -> None:
        try:
            self.consumer.ack(batch.token)
        except ConsumerConnectionError as exc:
            raise SourceUnavailable(exc.message) from exc

    def idle(self, seconds: float) -> None:
        try:
            self.consumer.idle(seconds)
        except ConsumerConnectionError as exc:  # a dead connection shows up at the ack; just wait out the time
            log.debug("idle on %s: %r", self.name, exc)
            time.sleep(seconds)

    def reconnect(self) -> None:
        try:
            self.consumer.reconnect()
        except ConsumerConnectionError as exc:
            raise SourceUnavailable(exc.message) from exc

    def queue_depth(self) -> int:
        """Return the ready messages of the queue."""
        return self.consumer.queue_depth()

    def close(self) -> None:
        self.consumer.close()


# Connections and channels queue_stats(keep=True) reuses, per thread: pika's BlockingConnection is not thread-safe.
_kept = threading.local()


def _connect(url: str, timeout_sec: float) -> pika.BlockingConnection:
    try:
        return pika.BlockingConnection(connection_parameters(url, timeout_sec))
    except (pika.exceptions.AMQPError, OSError) as exc:
        raise ConsumerConnectionError(
            f"cannot connect to RabbitMQ {masked_url(url)}: {exc!r}", fix="check that RabbitMQ is running"
        ) from exc


def _declared(chan: BlockingChannel, queue_name: str) -> QueueStats:
    """Return the queue's figures by a passive declare (zeros when it does not exist; the broker closes chan)."""
    try:
        ok = chan.queue_declare(queue_name, passive=True).method
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            return QueueStats(0, 0)
        raise
    return QueueStats(int(ok.message_count), int(ok.consumer_count))


def kept_channel(url: str, timeout_sec: float) -> BlockingChannel:
    """Return this thread's open channel to url: the kept one, or a new one (on a new connection if need be)."""
    kept = _kept.__dict__.setdefault("channels", {})
    conn, chan = kept.get(url, (None, None))
    if chan is not None and chan.is_open and conn is not None and conn.is_open:
        return chan
    if conn is None or not conn.is_open:
        conn = _connect(url, timeout_sec)
    try:
        chan = conn.channel()
    except (pika.exceptions.AMQPError, OSError):
        kept.pop(url, None)
        if conn.is_open:
            conn.close()
        raise
    kept[url] = (conn, chan)
    return chan


def queue_stats(url: str, queue_name: str = "mlops", timeout_sec: float = 5.0, keep: bool = False) -> QueueStats:
    """Return a queue's ready messages and consumers (zeros if it does not exist yet).

    keep: reuse one connection and channel per thread and URL across calls. A periodic check (the agent's, every
    2 s) then costs one round trip, where a new channel each time cost the broker a channel set up and torn down
    (and the agent's log two lines).
    """
    if keep:
        try:
            return _declared(kept_channel(url, timeout_sec), queue_name)
        except (pika.exceptions.AMQPError, OSError):
            pass  # the broker closed it (restart, missed heartbeats): connect again once
        _kept.__dict__.setdefault("channels", {}).pop(url, None)
        return _declared(kept_channel(url, timeout_sec), queue_name)
    conn = _connect(url, timeout_sec)
    try:
        chan = conn.channel()
        return _declared(chan, queue_name)
    finally:
        if conn.is_open:
            conn.close()


def queue_depth(url: str, queue_name: str = "mlops", timeout_sec: float = 5.0) -> int:
    """Return the ready messages of a queue (0 if it does not exist yet); for scalers and dashboards."""
    return queue_stats(url, queue_name, timeout_sec).depth


def read_dead_letters(url: str, queue_name: str = "mlops", limit: int = 100) -> list[tuple[bytes, str]]:
    """Return up to limit (body, reason) pairs from a dead-letter queue without removing them."""
    conn = pika.BlockingConnection(connection_parameters(url))
    try:
        chan = conn.channel()
        chan.queue_declare(dead_letter_queue(queue_name), durable=True)
        out: list[tuple[bytes, str]] = []
        for _ in range(limit):
            method, props, body = chan.basic_get(dead_letter_queue(queue_name), auto_ack=False)
            if method is None:
                break
            out.append((body, (props.headers or {}).get(REASON_HEADER, "")))
        return out  # closing without ack returns them to the queue
    finally:
        if conn.is_open:
            conn.close()
