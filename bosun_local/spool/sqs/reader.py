"""SQS source of the monitoring agent: receive with a visibility timeout, delete only after the service stored.

At least once: a message the agent did not delete (it died, the service was down) becomes visible again after
the visibility timeout and another agent reads it; the service counts each record id once. While the agent holds
a message (a slow batch, a service outage) a keeper thread extends its visibility timeout before it runs out
(ChangeMessageVisibility), so a live agent's batch is not delivered to another agent meanwhile. A full receive
(10 messages) is followed by up to `receivers` receives in parallel: one call returns at most 10 messages.

A message holding a record that cannot be used is left undeleted and made visible at once, so SQS moves it to
the dead-letter queue of the queue's redrive policy after `maxReceiveCount` deliveries; the agent counts it as
rejected on that last delivery only. A queue without a redrive policy gets its poison messages sent to
`<queue>-dead` by the agent.
"""
from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bosun_local.contracts import records
from bosun_local.spool.source import Batch, Rejected, Source, SourceUnavailable, parse_record
from bosun_local.spool.sqs.config import SqsChannelConfig
from bosun_local.spool.sqs.queues import (
    DEAD_LETTER_SUFFIX,
    SqsError,
    fail,
    make_client,
    queue_name,
    queue_stats,
)
from bosun_local.spool.sqs.writer import COMPRESSED_PREFIX

log = logging.getLogger("bosun_local.monitoring")
_RECEIVE_MAX = 10  # SQS returns at most 10 messages per ReceiveMessage
# A compressed body may not expand past this (a 256 KiB message of repeated bytes could claim gigabytes).
MAX_PLAIN_BYTES = 64 * 1024 * 1024


def plain_body(body: str) -> str:
    """Return a message body's JSON lines, decompressing a `z:` body of our SQS writer; ValueError if unreadable."""
    if not body.startswith(COMPRESSED_PREFIX):
        return body
    try:
        packed = base64.b64decode(body[len(COMPRESSED_PREFIX):], validate=True)
        inflater = zlib.decompressobj()
        text = inflater.decompress(packed, MAX_PLAIN_BYTES)
    except (binascii.Error, zlib.error) as exc:
        raise ValueError(f"compressed message body cannot be read: {exc}") from exc
    if inflater.unconsumed_tail:
        raise ValueError(f"compressed message body expands past {MAX_PLAIN_BYTES // (1024 * 1024)} MiB")
    try:
        return text.decode()
    except UnicodeDecodeError as exc:
        raise ValueError(f"compressed message body is not UTF-8 text: {exc}") from exc


@dataclass
class Message:
    """One received SQS message and the ids of the records it held."""

    message_id: str
    receipt: str
    body: str
    receive_count: int
    record_ids: list[str] = field(default_factory=list)
    poison: list[str] = field(default_factory=list)
    # When its visibility timeout was last set (received or extended), time.monotonic().
    visible_from: float = field(default_factory=time.monotonic)


class SqsSource(Source):
    """One SQS queue shared with other agents: receive, delete after storing, poison to the dead-letter queue."""

    def __init__(self, config: SqsChannelConfig, prefetch: int = 1000, client: Any = None) -> None:
        self.config = config
        self.name = config.describe()
        self.client = client or make_client(config.queue_url)
        try:
            stats = queue_stats(config.queue_url, self.client)
        except SqsError as exc:
            raise SourceUnavailable(exc.message) from exc
        self.max_receive = stats.max_receive
        if stats.dead_letter_url:
            self.rejects_to = f"dead-letter queue {queue_name(stats.dead_letter_url)!r} (redrive policy)"
            self._dead_url: str | None = None
        else:
            self._dead_url = config.queue_url + DEAD_LETTER_SUFFIX
            self.rejects_to = f"queue {queue_name(self._dead_url)!r} (the queue has no redrive policy)"
        self._held: dict[str, Message] = {}
        self._held_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(config.receivers, thread_name_prefix="sqs-receive") \
            if config.receivers > 1 else None
        self.extensions = 0
        self._closed = threading.Event()
        self._keeper = threading.Thread(target=self._keep_visible, name="sqs-visibility", daemon=True)
        self._keeper.start()

    def _receive(self, wait_sec: int) -> list[dict[str, Any]]:
        try:
            response = self.client.receive_message(
                QueueUrl=self.config.queue_url, MaxNumberOfMessages=_RECEIVE_MAX, WaitTimeSeconds=wait_sec,
                VisibilityTimeout=self.config.visibility_timeout_sec,
                MessageSystemAttributeNames=["ApproximateReceiveCount"])
        except Exception as exc:
            raise SourceUnavailable(fail(self.config.queue_url, "ReceiveMessage", exc).message) from exc
        return list(response.get("Messages", []))

    def fetch(self, max_records: int, timeout_sec: float) -> Batch:
        """Receive messages until max_records records arrived or the queue has no more ready ones."""
        deadline = time.monotonic() + timeout_sec
        batch = Batch(token=[])
        # Long-poll the first call (whole seconds, at least one: an idle agent must not poll the server in a
        # tight loop), then take what is ready without waiting.
        wait = max(1, min(20, int(timeout_sec)))
        calls = 1
        while len(batch) < max_records:
            answers = self._receive_many(calls, wait)
            for raw in (m for answer in answers for m in answer):
                self._add(batch, raw)
            if not any(answers):
                if len(batch) or time.monotonic() >= deadline:
                    break
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            wait = 0
            if all(len(answer) == _RECEIVE_MAX for answer in answers) and len(batch):
                # Full answers: more is queued. Ask in parallel for about what the batch still has room for.
                per_message = max(1, len(batch.records) // max(1, len(batch.token)))
                calls = max(1, min(self.config.receivers, -(-(max_records - len(batch)) // (per_message * 10))))
            else:
                calls = 1
        return batch

    def _receive_many(self, calls: int, wait_sec: int) -> list[list[dict[str, Any]]]:
        """Return the answers of `calls` ReceiveMessage calls made at once."""
        if calls == 1 or self._pool is None:
            return [self._receive(wait_sec)]
        return list(self._pool.map(self._receive, [wait_sec] * calls))

    def _add(self, batch: Batch, raw: dict[str, Any]) -> None:
        count = int((raw.get("Attributes") or {}).get("ApproximateReceiveCount", "1"))
        message = Message(raw["MessageId"], raw["ReceiptHandle"], raw.get("Body") or "", count)
        index = len(batch.token)
        batch.token.append(message)
        with self._held_lock:
            self._held[message.receipt] = message
        try:
            text = plain_body(message.body)
        except ValueError as exc:
            batch.rejects.append(Rejected(message.body[:2000].encode(), str(exc), index))
            return
        for line in text.split("\n"):
            if not line.strip():
                continue
            try:
                record = parse_record(line)
            except records.RecordError as exc:
                batch.rejects.append(Rejected(line.encode(), exc.reason, index))
                continue
            message.record_ids.append(record.id)
            batch.records.append(record)

    def _message_of(self, batch: Batch, reject: Rejected) -> Message:
        if isinstance(reject.ref, int):
            return batch.token[reject.ref]
        return next(m for m in batch.token if reject.ref in m.record_ids)

    def set_aside(self, batch: Batch) -> None:
        """Keep poison messages undeleted (visible again now); only their last delivery's rejects stay counted."""
        counted: list[Rejected] = []
        for reject in batch.rejects:
            message = self._message_of(batch, reject)
            message.poison.append(reject.reason)
            if self._dead_url is not None or (self.max_receive and message.receive_count >= self.max_receive):
                counted.append(reject)
        poison = [m for m in batch.token if m.poison]
        if self._dead_url is not None:
            self._send_dead(poison)
        else:
            self._make_visible(poison)
        batch.rejects[:] = counted

    def _send_dead(self, messages: list[Message]) -> None:
        """Send poison messages to `<queue>-dead` (created on first use); commit() then deletes the originals."""
        for message in messages:
            attrs = {"reason": {"DataType": "String", "StringValue": "; ".join(message.poison)[:2000]}}
            try:
                try:
                    self.client.send_message(QueueUrl=self._dead_url, MessageBody=message.body,
                                             MessageAttributes=attrs)
                except self.client.exceptions.QueueDoesNotExist:
                    self.client.create_queue(QueueName=queue_name(self._dead_url or ""))
                    self.client.send_message(QueueUrl=self._dead_url, MessageBody=message.body,
                                             MessageAttributes=attrs)
            except Exception as exc:
                raise SourceUnavailable(fail(str(self._dead_url), "SendMessage", exc).message) from exc
            message.poison = []

    def _make_visible(self, messages: list[Message]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start:start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m.receipt, "VisibilityTimeout": 0} for i, m in enumerate(chunk)]
            try:
                self.client.change_message_visibility_batch(QueueUrl=self.config.queue_url, Entries=entries)
            except Exception as exc:  # it becomes visible at the end of its timeout anyway
                log.warning("%s: could not make %d poison message(s) visible again: %s", self.name, len(chunk), exc)
            self._release(chunk)

    def _release(self, messages: list[Message]) -> None:
        with self._held_lock:
            for m in messages:
                self._held.pop(m.receipt, None)

    def _keep_visible(self) -> None:
        """Extend the visibility timeout of held messages once a third of it has passed (until close).

        Early, and checked ten times per timeout: a thread stalled on a loaded host still extends in time.
        """
        timeout = self.config.visibility_timeout_sec
        while not self._closed.wait(max(0.2, timeout / 10)):
            now = time.monotonic()
            with self._held_lock:
                due = [m for m in self._held.values() if now - m.visible_from >= timeout / 3]
            for start in range(0, len(due), 10):
                self._extend(due[start:start + 10], timeout)

    def _extend(self, messages: list[Message], timeout: int) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": m.receipt, "VisibilityTimeout": timeout}
                   for i, m in enumerate(messages)]
        now = time.monotonic()
        try:
            response = self.client.change_message_visibility_batch(QueueUrl=self.config.queue_url, Entries=entries)
        except Exception as exc:  # the next round tries again; if the timeout runs out, SQS redelivers it
            log.warning("%s: could not extend the visibility of %d message(s): %s", self.name, len(messages), exc)
            return
        failed = {int(f["Id"]) for f in response.get("Failed", [])}
        for i, m in enumerate(messages):
            if i not in failed:  # a failure is a message deleted or made visible meanwhile
                m.visible_from = now
                self.extensions += 1
        if len(failed) < len(messages):
            log.info("%s: extended the visibility of %d held message(s) by %d s", self.name,
                     len(messages) - len(failed), timeout)

    def commit(self, batch: Batch) -> None:
        """Delete the batch's messages (poison ones stay for SQS to move to the dead-letter queue)."""
        done = [m for m in batch.token if not m.poison]
        for start in range(0, len(done), 10):
            chunk = done[start:start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(chunk)]
            try:
                response = self.client.delete_message_batch(QueueUrl=self.config.queue_url, Entries=entries)
            except Exception as exc:
                raise SourceUnavailable(fail(self.config.queue_url, "DeleteMessageBatch", exc).message) from exc
            for failure in response.get("Failed", []):
                # Its visibility timeout ran out and another agent holds it now: it is stored twice, counted once.
                log.warning("%s: could not delete message %s: %s", self.name,
                            chunk[int(failure["Id"])].message_id, failure.get("Message"))
            self._release(chunk)

    def queue_depth(self) -> int:
        """Return the queue's approximate visible messages."""
        try:
            return queue_stats(self.config.queue_url, self.client).depth
        except SqsError as exc:
            raise SourceUnavailable(exc.message) from exc

    def close(self) -> None:
        """Make what this agent received but did not delete visible again, so another agent takes it now."""
        self._closed.set()
        self._keeper.join(5)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        with self._held_lock:
            held, self._held = list(self._held.values()), {}
        if held:
            self._make_visible(held)
