"""The agent's view of a channel: fetch a batch, set rejects aside, commit once stored, idle, reconnect."""
from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from bosun_local.contracts.records import Record
from bosun_local.monitoring.config import ChannelConfig, FsChannelConfig, RabbitChannelConfig
from bosun_local.spool.filesystem.reader import FilesystemSpoolReader, SpoolBatch, SpoolReject
from bosun_local.spool.filesystem.writer import REJECTED_DIR
from bosun_local.spool.rabbitmq.reader import ConsumerConnectionError, Delivery, RabbitMQConsumer

log = logging.getLogger("bosun_local.monitoring")


class SourceUnavailable(Exception):
    """The channel cannot be read or settled right now (broker down); what was not committed comes back."""


@dataclass(frozen=True)
class Rejected:
    """A message that could not be parsed, validated or aggregated, and why."""

    raw: bytes
    reason: str
    ref: Any = None


@dataclass
class Batch:
    """Records fetched in one call, the rejects among them, and what the source needs to commit them."""

    records: list[Record] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)
    token: Any = None

    def __len__(self) -> int:
        return len(self.records) + len(self.rejects)


class Source(ABC):
    """One channel the agent consumes; at least once: commit() only after the service stored the batch."""

    name: str = "?"
    rejects_to: str = "?"

    @abstractmethod
    def fetch(self, max_records: int, timeout_sec: float) -> Batch:
        """Return up to max_records messages, waiting at most timeout_sec."""

    @abstractmethod
    def set_aside(self, batch: Batch) -> None:
        """Move the batch's rejects where people can read them (dead-letter queue, rejected/ dir)."""

    @abstractmethod
    def commit(self, batch: Batch) -> None:
        """Mark the whole batch consumed (ack / committed offset)."""

    def idle(self, seconds: float) -> None:
        """Wait while holding a batch (the service is down), keeping the channel alive."""
        time.sleep(seconds)

    def reconnect(self) -> None:  # noqa: B027 - sources without connections have nothing to do
        """Connect again after SourceUnavailable."""

    @abstractmethod
    def close(self) -> None:
        """Release the channel; what was not committed is read again next time."""


class _Consumer(RabbitMQConsumer):
    """The library's consumer plus a wait that keeps serving broker heartbeats while a batch is held."""

    def idle(self, seconds: float) -> None:
        """Sleep while processing connection events (new deliveries queue up for the next get_batch)."""
        if self._conn is None:
            time.sleep(seconds)
            return
        self._conn.sleep(seconds)


class RabbitSource(Source):
    """A RabbitMQ queue shared with other agents: prefetch window, multi-ack, `<queue>.dead` for rejects."""

    def __init__(self, config: RabbitChannelConfig, prefetch: int) -> None:
        self.config = config
        self.name = config.describe()
        self.rejects_to = f"dead-letter queue {config.dead_letter_queue!r}"
        self.consumer = _Consumer(config.queue_url, config.queue_name, prefetch=prefetch,
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
        except Exception as exc:  # a dead connection shows up at the ack; just wait out the time
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


class FsSource(Source):
    """A filesystem spool directory: one reader, committed offsets, `rejected/` for rejects."""

    def __init__(self, config: FsChannelConfig) -> None:
        self.config = config
        self.name = config.describe()
        self.rejects_to = f"{config.directory / REJECTED_DIR}/"
        self.reader = FilesystemSpoolReader(config.directory)

    def fetch(self, max_records: int, timeout_sec: float) -> Batch:
        deadline = time.monotonic() + timeout_sec
        while True:
            spooled: SpoolBatch = self.reader.read(max_records)
            if len(spooled) or time.monotonic() >= deadline:
                break
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        rejects = [Rejected(r.line, r.reason, r) for r in spooled.rejects]
        return Batch(records=spooled.records, rejects=rejects, token=spooled)

    def set_aside(self, batch: Batch) -> None:
        spooled: SpoolBatch = batch.token
        extra = [r for r in batch.rejects if not isinstance(r.ref, SpoolReject)]
        found = [r.ref for r in batch.rejects if isinstance(r.ref, SpoolReject)]
        # Records rejected after parsing carry no spool position; file them under the batch's start file.
        found += [SpoolReject(spooled.position.file, -1, r.raw, r.reason) for r in extra]
        if found:
            self.reader.write_rejects(found)

    def commit(self, batch: Batch) -> None:
        self.reader.commit(batch.token.position)

    def close(self) -> None:
        self.reader.close()


def open_source(config: ChannelConfig, prefetch: int) -> Source:
    """Return the source of a channel config."""
    if isinstance(config, RabbitChannelConfig):
        return RabbitSource(config, prefetch)
    return FsSource(config)
