"""The monitoring agent: channels -> records -> ingest entries -> service, acked only once stored."""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bosun_local.client import ServiceClient, ServiceError
from bosun_local.contracts.liveness import mark_alive
from bosun_local.contracts.record_bounds import short
from bosun_local.contracts.records import DEPLOYMENT_STATS, DEPLOYMENT_STATS_PACKED, Record
from bosun_local.errors import BosunError
from bosun_local.metrics.listener import MetricsListener, listen_from_env
from bosun_local.monitoring.aggregation import Aggregator, Entry, RequestsFolder
from bosun_local.monitoring.baselines import BaselineCache
from bosun_local.monitoring.config import AgentConfig
from bosun_local.monitoring.metrics import render as render_metrics
from bosun_local.monitoring.pipeline import Backoff, ChannelPipeline
from bosun_local.monitoring.replay import ChallengerReplay
from bosun_local.monitoring.status_events import (
    CHANNEL_RECOVERED,
    CHANNEL_STUCK,
    RECORDS_REJECTED,
    StatusWatcher,
)
from bosun_local.spool.source import Batch, Rejected, Source
from bosun_local.spool.transport import ChannelConfig

log = logging.getLogger("bosun_local.monitoring")
# HTTP answers that say "try again later" rather than "this request is wrong".
RETRYABLE_CODES = frozenset({401, 403, 408, 409, 423, 425, 429})
_FOLDED = (DEPLOYMENT_STATS, DEPLOYMENT_STATS_PACKED)


@dataclass
class Counters:
    """What the agent did, reported in heartbeats and `monitor run` logs."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    rows: int = 0
    batches: int = 0
    retries: int = 0
    pings: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, Any]:
        """Return the counters as JSON-ready data."""
        with self.lock:
            return {"stored": self.stored, "duplicates": self.duplicates, "rejected": self.rejected,
                    "rows": self.rows, "batches": self.batches, "retries": self.retries, "pings": self.pings,
                    "topRejectReasons": dict(self.reasons.most_common(5))}


def _no_baseline_on_404(client: ServiceClient):  # noqa: ANN202 - returns a BaselineFetcher
    """Return a baseline fetcher where an unknown deployment simply has no baseline."""

    def fetch(deployment_id: str) -> dict[str, Any] | None:
        try:
            return client.baseline(deployment_id)
        except ServiceError as exc:
            # External deployments report before they are registered: no baseline, figures stored all the same.
            if exc.status_code in (404, 422):
                return None
            raise

    return fetch


class ServiceDown(Exception):
    """The service could not take the batch now; hold it and retry."""


class MonitoringAgent:
    """Consumes every configured channel in its own thread; heartbeats and status events in another."""

    def __init__(self, config: AgentConfig, client: ServiceClient | None = None) -> None:
        self.config = config
        self.client = client or ServiceClient(config.service_url, config.token)
        self.aggregator = Aggregator(BaselineCache(_no_baseline_on_404(self.client), config.baseline_ttl_sec))
        self.counters = Counters()
        self.stop_event = threading.Event()
        self.deployments: set[str] = set()
        self.status_polls = 0
        self.pipelines: list[ChannelPipeline] = []
        self.stuck: dict[str, dict[str, Any]] = {}  # channel -> what the last heartbeat said about it
        self._threads: list[threading.Thread] = []
        self._metrics: MetricsListener | None = None
        self.replay = ChallengerReplay(config.replay_url, self.client, config.agent_id, self.stop_event)

    # lifecycle
    def start(self) -> None:
        """Start a thread per channel, the housekeeping thread and the /metrics listener ($BOSUN_METRICS_PORT)."""
        self._metrics = listen_from_env(lambda: render_metrics(self))
        self.replay.start()
        for channel in self.config.channels:
            self._spawn(f"monitor-{channel.name}", self._channel_loop, channel)
        self._spawn("monitor-housekeeping", self._housekeeping_loop)

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 15.0) -> None:
        """Ask every thread to finish its batch and wait a bounded time; unacked messages are redelivered."""
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.replay.stop(max(0.1, deadline - time.monotonic()))
        if self._metrics is not None:
            self._metrics.stop()
            self._metrics = None

    def run(self) -> None:
        """Run until stop() (or a signal handler setting stop_event)."""
        self.start()
        try:
            while not self.stop_event.wait(0.5):
                pass
        finally:
            self.stop()

    # channels
    def _channel_loop(self, channel: ChannelConfig) -> None:
        pipeline = ChannelPipeline(self, channel)
        self.pipelines.append(pipeline)
        pipeline.run()

    def stuck_channels(self) -> dict[str, dict[str, Any]]:
        """Return the channels that have not moved for stuck_after_sec, with for how long and the last failure."""
        out: dict[str, dict[str, Any]] = {}
        for pipeline in list(self.pipelines):
            seconds = pipeline.stuck_sec()
            if seconds >= self.config.stuck_after_sec:
                out[pipeline.channel.describe()] = {"stuckSec": round(seconds, 1), "reason": pipeline.failure or
                                                    "a batch is held: the service has not stored it"}
        return out

    def aggregate(self, source: Source, batch: Batch) -> tuple[list[Entry], list[list[Record]]] | None:
        """Return the batch's entries and the records behind each, waiting out a service outage (baselines).

        None when the agent stops first: the batch must then stay uncommitted.
        """
        backoff = Backoff(self.config.retry_max_sec)
        while True:
            try:
                return self._entries(batch)
            except ServiceDown as exc:
                if self.stop_event.is_set():
                    return None
                self._note_retry(source, batch, exc, backoff)
                source.idle(backoff.delay)

    def store(self, source: Source, batch: Batch, entries: list[Entry], records: list[list[Record]]) -> bool:
        """Post a batch's entries until the service stored them; False when the agent stops first."""
        backoff = Backoff(self.config.retry_max_sec)
        while True:
            try:
                self._store(entries, records, batch)
                self.replay.offer(batch.records)  # stored: the champion's rows may go on to its challengers
                return True
            except ServiceDown as exc:
                if self.stop_event.is_set():
                    return False
                self._note_retry(source, batch, exc, backoff)
                self.stop_event.wait(backoff.delay)
            except Exception as exc:  # never drop a batch on a surprise: hold it and retry like an outage
                log.exception("storing a batch from %s failed", source.name)
                if self.stop_event.is_set():
                    return False
                self._note_retry(source, batch, exc, backoff)
                self.stop_event.wait(backoff.delay)

    def _note_retry(self, source: Source, batch: Batch, exc: Exception, backoff: Backoff) -> None:
        delay = backoff.next()
        with self.counters.lock:
            self.counters.retries += 1
        log.warning("holding %d record(s) from %s: %s; retrying in %.1f s", len(batch), source.name, exc, delay)

    def settle(self, source: Source, batch: Batch) -> None:
        """Set a stored batch's rejects aside (and say so), then commit the whole batch."""
        if batch.rejects:
            source.set_aside(batch)
            # A source may count a reject only on its last delivery (SQS redrive) and drop the others here.
            if batch.rejects:
                self._report_rejects(source, batch.rejects)
        source.commit(batch)
        with self.counters.lock:
            self.counters.batches += 1

    def _entries(self, batch: Batch) -> tuple[list[Entry], list[list[Record]]]:
        """Return (entries, the records behind each); records that cannot be aggregated become rejects.

        DEPLOYMENT_STATS records (and packed ones) fold into `requests` entries per deployment, model and minute.
        """
        entries: list[Entry] = []
        behind: list[list[Record]] = []
        failed: list[Record] = []
        requests = RequestsFolder()
        for record in batch.records:
            try:
                if record.data_type in _FOLDED:
                    requests.add(record)
                    continue
                entry = self.aggregator.entry(record)
                if entry is None:  # a ping: acknowledged with the batch, nothing to store
                    with self.counters.lock:
                        self.counters.pings += 1
                    continue
                entries.append(entry)
                behind.append([record])
            except BosunError as exc:  # the service is needed for a baseline and did not answer
                raise ServiceDown(str(exc.message)) from exc
            except Exception as exc:  # a record that validates but cannot be binned must not stop the agent
                batch.rejects.append(Rejected(_wire(record), f"cannot aggregate: {short(exc, 500)}", record.id))
                failed.append(record)
        for entry, held in requests.entries():
            entries.append(entry)
            behind.append(held)
        if failed:
            gone = {id(r) for r in failed}
            batch.records = [r for r in batch.records if id(r) not in gone]
        return entries, behind

    def _store(self, entries: list[Entry], records: list[list[Record]], batch: Batch) -> None:
        """Post entries to the service; entries it refuses one by one become rejects."""
        if not entries:
            return
        try:
            result = self.client.ingest(entries)
        except ServiceError as exc:
            if exc.status_code >= 500 or exc.status_code in RETRYABLE_CODES:
                raise ServiceDown(f"service answered {exc.status_code}: {exc.message}") from exc
            self._store_each(entries, records, batch)
            return
        except BosunError as exc:
            raise ServiceDown(exc.message) from exc
        self._count(entries, result)

    def _store_each(self, entries: list[Entry], records: list[list[Record]], batch: Batch) -> None:
        """Find the records the service refuses by posting each alone; reject those, store the rest."""
        refused: set[int] = set()
        try:
            for entry, held in zip(entries, records, strict=True):
                # A folded entry was refused as a whole: its records go one by one, each as its own entry.
                singles = [entry] if len(held) == 1 and entry["kind"] != "requests" else \
                    [self.aggregator.entry(r) for r in held]
                for single, record in zip(singles, held, strict=True):
                    try:
                        self._count([single], self.client.ingest([single]))  # type: ignore[list-item]
                    except ServiceError as exc:
                        if exc.status_code >= 500 or exc.status_code in RETRYABLE_CODES:
                            raise ServiceDown(f"service answered {exc.status_code}: {exc.message}") from exc
                        batch.rejects.append(Rejected(_wire(record), f"service refused it: {exc.message}"[:1000],
                                                      record.id))
                        refused.add(id(record))
                    except BosunError as exc:
                        raise ServiceDown(exc.message) from exc
        finally:
            # Refused records are rejects now, also when a retry follows: never post them again.
            batch.records = [r for r in batch.records if id(r) not in refused]

    def _count(self, entries: list[Entry], result: dict[str, Any]) -> None:
        rows = sum(int(e.get("rows") or 0) for e in entries)
        with self.counters.lock:
            self.counters.stored += int(result.get("stored", 0))
            self.counters.duplicates += int(result.get("duplicates", 0))
            self.counters.rows += rows
            self.deployments.update(e["deploymentId"] for e in entries)

    def _report_rejects(self, source: Source, rejects: list[Rejected]) -> None:
        """Count rejects and say so in one event per batch (a failed event post is logged, never fatal)."""
        reasons = Counter(r.reason.split(":")[0][:120] for r in rejects)
        with self.counters.lock:
            self.counters.rejected += len(rejects)
            self.counters.reasons.update(reasons)
        message = (f"{len(rejects)} record(s) from {source.name} could not be used and went to {source.rejects_to}: "
                   f"{rejects[0].reason}")
        log.warning(message)
        try:
            self.client.post_event(RECORDS_REJECTED, "warning", message, data={
                "count": len(rejects), "channel": source.name, "agentId": self.config.agent_id,
                "reasons": [r.reason for r in rejects[:20]]})
        except BosunError as exc:
            log.warning("could not post the %s event: %s", RECORDS_REJECTED, exc)

    # heartbeats and statuses
    def _housekeeping_loop(self) -> None:
        client = ServiceClient(self.config.service_url, self.config.token, timeout=10)
        watcher = StatusWatcher(client, self.config.agent_id)
        next_beat = next_poll = 0.0
        try:
            while not self.stop_event.is_set():
                now = time.monotonic()
                if now >= next_beat:
                    next_beat = now + self.config.heartbeat_interval_sec
                    self._heartbeat(client)
                if now >= next_poll:
                    next_poll = now + self.config.status_poll_interval_sec
                    with self.counters.lock:
                        deployments = list(self.deployments)
                    watcher.check_all(deployments)
                    self.status_polls += 1
                self.stop_event.wait(max(0.05, min(next_beat, next_poll) - time.monotonic()))
        finally:
            client.close()

    def _heartbeat(self, client: ServiceClient) -> None:
        stuck = self.stuck_channels()
        if not stuck:
            mark_alive()  # a stuck channel lets the liveness file age: the container's health turns red
        data = {**self.counters.snapshot(), "replay": self.replay.counters.snapshot(),
                "channels": [c.describe() for c in self.config.channels],
                "healthy": not stuck, "stuck": stuck}
        try:
            client.heartbeat(self.config.agent_id, "monitoring", data)
            self._say_stuck(client, stuck)
        except BosunError as exc:
            log.warning("heartbeat failed: %s", exc.message)

    def _say_stuck(self, client: ServiceClient, stuck: dict[str, dict[str, Any]]) -> None:
        """Post an event when a channel gets stuck and when it moves again (once each)."""
        agent = self.config.agent_id
        for channel in stuck.keys() - self.stuck.keys():
            info = stuck[channel]
            message = (f"monitoring agent {agent}: channel {channel} has not moved for {info['stuckSec']:.0f} s "
                       f"({info['reason']}); new records there are not counted until it does")
            log.error(message)
            client.post_event(CHANNEL_STUCK, "failing", message, data={"agentId": agent, "channel": channel, **info})
            self.stuck[channel] = info
        for channel in self.stuck.keys() - stuck.keys():
            client.post_event(CHANNEL_RECOVERED, "passing", f"monitoring agent {agent}: channel {channel} moves "
                              "again", data={"agentId": agent, "channel": channel})
            del self.stuck[channel]


def _wire(record: Record) -> bytes:
    """Return a record's wire text for the dead letters (its repr when it cannot be encoded)."""
    try:
        return record.to_json().encode()
    except (ValueError, TypeError, RecursionError):
        return short(record, 10_000).encode()
