"""One channel's pipeline: this thread fetches and aggregates while a poster thread stores the previous batch.

Acks and commits stay in the channel thread (pika connections are not thread-safe) and happen in fetch
order, each only after the poster says the service stored that batch. Overlapping the agent's CPU work
with the service's ingest transaction is what lets one agent approach the machine's parsing speed.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from bosun_local.contracts.records import Record
from bosun_local.monitoring.aggregation import Entry
from bosun_local.monitoring.config import AgentConfig
from bosun_local.spool import registry
from bosun_local.spool.source import Batch, Source, SourceUnavailable
from bosun_local.spool.transport import ChannelConfig

log = logging.getLogger("bosun_local.monitoring")
# Batches handed to the poster but not yet stored; more would only hold more unacked messages.
IN_FLIGHT = 2
# On stop, how long stored batches may take to be acked before the rest is left for redelivery.
DRAIN_SEC = 5.0
# How long a fetch waits when the pipeline holds nothing (a delivery ends the wait at once).
IDLE_WAIT_SEC = 1.0
# The poster's wait for work: a put ends it at once; the timeout only bounds how late a stop is seen.
QUEUE_WAIT_SEC = 1.0


class Backoff:
    """Exponential delays 0.1 s .. max_sec; reset after a success."""

    def __init__(self, max_sec: float, first_sec: float = 0.1) -> None:
        self.max_sec = max_sec
        self.first_sec = first_sec
        self.delay = 0.0

    def next(self) -> float:
        """Return the next delay to wait."""
        self.delay = min(self.max_sec, self.delay * 2 if self.delay else self.first_sec)
        return self.delay

    def reset(self) -> None:
        """Start again from the first delay."""
        self.delay = 0.0


class BatchHandler(Protocol):
    """What a pipeline needs from its agent: config, stop signal, and the aggregate/store/settle steps."""

    config: AgentConfig
    stop_event: threading.Event

    def aggregate(self, source: Source, batch: Batch) -> tuple[list[Entry], list[list[Record]]] | None:
        """Return the batch's entries and the records behind each (None: the agent is stopping)."""
        ...

    def store(self, source: Source, batch: Batch, entries: list[Entry], records: list[list[Record]]) -> bool:
        """Store the batch in the service; return True once stored."""
        ...

    def settle(self, source: Source, batch: Batch) -> None:
        """Set the batch's rejects aside and commit it."""
        ...


@dataclass
class Work:
    """A batch on its way: the source it came from, its entries, and whether the service stored it."""

    source: Source
    batch: Batch
    entries: list[Entry]
    records: list[list[Record]]
    stored: threading.Event = field(default_factory=threading.Event)


class ChannelPipeline:
    """Fetch -> aggregate (here) -> store (poster thread) -> set rejects aside and commit (here, in order)."""

    def __init__(self, agent: BatchHandler, channel: ChannelConfig) -> None:
        self.agent = agent
        self.channel = channel
        self.source: Source | None = None
        self.todo: queue.Queue[Work] = queue.Queue(maxsize=IN_FLIGHT)
        self.pending: list[Work] = []  # handed over, in fetch order, not yet committed
        # When the channel last moved (a batch committed, or nothing to read) and the last failure since then:
        # a channel that stops moving while records wait is stuck, and the agent says so (health, event).
        self.moved_at = time.monotonic()
        self.failure: str | None = None

    def stuck_sec(self) -> float:
        """Return for how long the channel has not moved (0 while it reads, commits or has nothing to read)."""
        return time.monotonic() - self.moved_at

    def _moved(self) -> None:
        self.moved_at = time.monotonic()
        self.failure = None

    def run(self) -> None:
        """Run until the agent stops; then commit what was stored and close the channel."""
        stop = self.agent.stop_event
        poster = threading.Thread(target=self._post_loop, name=f"{threading.current_thread().name}-poster",
                                  daemon=True)
        poster.start()
        backoff = Backoff(self.agent.config.retry_max_sec)
        while not stop.is_set():
            try:
                self._step()
                backoff.reset()
            except SourceUnavailable as exc:
                delay = backoff.next()
                self.failure = str(exc)
                log.warning("%s: %s; retrying in %.1f s", self.channel.describe(), exc, delay)
                self._drop_source()
                stop.wait(delay)
            except Exception as exc:  # an unexpected failure must not end the channel: start it over
                delay = backoff.next()
                self.failure = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("%s failed; reopening it in %.1f s", self.channel.describe(), delay)
                self._drop_source()
                stop.wait(delay)
        self._drain()
        poster.join(DRAIN_SEC)
        self._drop_source()

    def _step(self) -> None:
        config = self.agent.config
        if self.source is None:
            try:
                self.source = registry.open_source(self.channel, config.prefetch)
            except Exception as exc:  # a locked spool dir or a refused connection: retry like a broker outage
                raise SourceUnavailable(str(exc)) from exc
            log.info("agent %s reading %s", config.agent_id, self.source.name)
        self._settle()
        # Holding nothing, the wait can be longer: a delivery ends it at once, and an idle agent wakes less often.
        wait_sec = config.batch_max_wait_ms / 1000
        if not self.pending:
            wait_sec = max(wait_sec, IDLE_WAIT_SEC)
        batch = self.source.fetch(config.batch_max_records, wait_sec)
        if not len(batch):
            if not self.pending:
                self._moved()  # nothing to read and nothing held: idle, not stuck
            return
        aggregated = self.agent.aggregate(self.source, batch)
        if aggregated is None:
            return
        work = Work(self.source, batch, *aggregated)
        self.pending.append(work)
        while not self.agent.stop_event.is_set():
            try:
                self.todo.put(work, timeout=0.05)
                return
            except queue.Full:
                self._settle()
                self.source.idle(0.01)  # keeps broker heartbeats going while the poster is busy

    def _settle(self) -> None:
        """Commit the stored batches at the head of the pending list, in fetch order."""
        while self.pending and self.pending[0].stored.is_set():
            work = self.pending.pop(0)
            if work.source is not self.source:
                continue  # its connection is gone; the broker redelivers it and the service dedups
            self.agent.settle(work.source, work.batch)
            self._moved()

    def _drain(self) -> None:
        deadline = time.monotonic() + DRAIN_SEC
        while self.pending and time.monotonic() < deadline:
            try:
                self._settle()
            except SourceUnavailable:
                return
            if self.pending:
                time.sleep(0.02)

    def _drop_source(self) -> None:
        if self.source is not None:
            try:
                self.source.close()
            except Exception as exc:  # closing a broken connection may fail too; it is gone either way
                log.debug("closing %s: %r", self.channel.describe(), exc)
            self.source = None

    def _post_loop(self) -> None:
        stop = self.agent.stop_event
        while not (stop.is_set() and self.todo.empty()):
            try:
                work = self.todo.get(timeout=QUEUE_WAIT_SEC)
            except queue.Empty:
                continue
            if self.agent.store(work.source, work.batch, work.entries, work.records):
                work.stored.set()
