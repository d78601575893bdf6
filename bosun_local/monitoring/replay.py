"""Challenger replay: the rows a deployment's champion reported, sent on to its replay-fed challengers.

A replay-fed challenger (`challengers add --feed replay`, the default) gets no copy of the live requests: once the
service has stored a PREDICTIONS_DATA record of the deployment, this sends its rows, in one request, to each
challenger's own route through traefik (/deployments/<id>/challengers/<model>/predictions). The challenger's PPS
reports its answers under its own model id, as a mirrored one does. Nothing happens on the champion's request path.

Rows are replayed after they are stored and before the spool message is acknowledged; a redelivered message (the
agent died between the two) may be replayed twice. A queue too full, or a challenger that refuses or does not
answer after a few tries, costs those rows their replay: they are counted (heartbeat, /metrics) and said in a
`challenger_replay_failed` event, at most once a minute per challenger.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bosun_local.client import ServiceClient, ServiceError
from bosun_local.contracts.challengers import REPLAY, feed_of, replay_path
from bosun_local.contracts.records import PREDICTIONS_DATA, Record
from bosun_local.errors import BosunError

log = logging.getLogger("bosun_local.monitoring.replay")
REPLAY_FAILED = "challenger_replay_failed"
TARGETS_TTL_SEC = 2.0
QUEUE_ROWS = 200_000
TRIES = 4
FIRST_RETRY_SEC = 0.5
EVENT_EVERY_SEC = 60.0
# A put ends the wait at once; the timeout only bounds how late a stop is seen (an idle agent wakes this often).
QUEUE_WAIT_SEC = 1.0


@dataclass
class ReplayCounters:
    """Rows replayed, and rows that lost their replay (failed after retries, or dropped on a full queue)."""

    replayed: int = 0
    failed: int = 0
    dropped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {"replayed": self.replayed, "failed": self.failed, "dropped": self.dropped}


@dataclass(frozen=True)
class Job:
    """One record's rows, for one challenger."""

    deployment_id: str
    model_id: str
    rows: list[dict[str, Any]]


def rows_of(record: Record) -> list[dict[str, Any]]:
    """Return a PREDICTIONS_DATA record's feature rows as the PPS takes them in JSON (one object per row)."""
    features = record.data.get("features") or {}
    if not features:
        return []
    names = list(features)
    return [dict(zip(names, values, strict=True)) for values in zip(*features.values(), strict=True)]


class ChallengerReplay:
    """Replays stored champion rows to replay-fed challengers from one background thread."""

    def __init__(self, base_url: str, client: ServiceClient, agent_id: str, stop_event: threading.Event) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.agent_id = agent_id
        self.stop_event = stop_event
        self.counters = ReplayCounters()
        self._targets: dict[str, tuple[float, list[str], set[str]]] = {}
        self._jobs: queue.Queue[Job] = queue.Queue()
        self._queued_rows = 0
        self._queued_lock = threading.Lock()
        self._said: dict[tuple[str, str], float] = {}
        self._http = httpx.Client(timeout=30.0)
        self._thread: threading.Thread | None = None
        self.tries, self.first_retry_sec = TRIES, FIRST_RETRY_SEC

    def start(self) -> None:
        """Start the replay thread."""
        self._thread = threading.Thread(target=self._loop, name="monitor-replay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Let the thread finish the job in hand (queued jobs are counted as dropped) and close the client."""
        if self._thread is not None:
            self._thread.join(timeout)
        self._http.close()

    def targets(self, deployment_id: str, model_id: str | None) -> list[str]:
        """Return the replay-fed challengers that should get this model's rows (none for a challenger's own)."""
        now = time.monotonic()
        cached = self._targets.get(deployment_id)
        if cached is None or now - cached[0] > TARGETS_TTL_SEC:
            cached = (now, *self._fetch(deployment_id))
            self._targets[deployment_id] = cached
        _, replayed, challengers = cached
        if model_id in challengers:
            return []
        return replayed

    def _fetch(self, deployment_id: str) -> tuple[list[str], set[str]]:
        try:
            rows = self.client.challengers(deployment_id)
        except ServiceError as exc:
            if exc.status_code not in (404, 422):  # an external deployment is not registered: nothing to replay
                log.warning("deployment %s: cannot read its challengers (%s); no replay for %.0f s", deployment_id,
                            exc.message, TARGETS_TTL_SEC)
            return [], set()
        except BosunError as exc:
            log.warning("deployment %s: cannot read its challengers (%s); no replay for %.0f s", deployment_id,
                        exc.message, TARGETS_TTL_SEC)
            return [], set()
        every = {str(r["modelId"]) for r in rows}
        return [str(r["modelId"]) for r in rows if feed_of(r) == REPLAY and r.get("state") == "running"], every

    def offer(self, records: list[Record]) -> None:
        """Queue the rows of stored champion PREDICTIONS_DATA records for each replay-fed challenger."""
        for record in records:
            if record.data_type != PREDICTIONS_DATA or not record.deployment_id or not record.data.get("features"):
                continue
            models = self.targets(record.deployment_id, record.model_id)
            if not models:
                continue
            rows = rows_of(record)
            if not self.base_url:
                self._lost(record.deployment_id, models, len(rows), "dropped",
                           "the monitoring agent has no traefik URL to replay to (set challengerReplayUrl in its "
                           "config, or BOSUN_TRAEFIK_URL)")
                continue
            for model_id in models:
                with self._queued_lock:
                    full = self._queued_rows + len(rows) > QUEUE_ROWS
                    if not full:
                        self._queued_rows += len(rows)
                if full:
                    self._lost(record.deployment_id, [model_id], len(rows), "dropped",
                               f"the replay queue holds {QUEUE_ROWS} rows already (the challenger answers slower "
                               "than the champion serves)")
                    continue
                self._jobs.put(Job(record.deployment_id, model_id, rows))

    def _loop(self) -> None:
        while not (self.stop_event.is_set() and self._jobs.empty()):
            try:
                job = self._jobs.get(timeout=QUEUE_WAIT_SEC)
            except queue.Empty:
                continue
            with self._queued_lock:
                self._queued_rows -= len(job.rows)
            if self.stop_event.is_set():
                self._lost(job.deployment_id, [job.model_id], len(job.rows), "dropped", "the agent is stopping")
                continue
            self._send(job)

    def _send(self, job: Job) -> None:
        url = f"{self.base_url}{replay_path(job.deployment_id, job.model_id)}predictions"
        why = ""
        for attempt in range(self.tries):
            try:
                response = self._http.post(url, json=job.rows)
            except httpx.HTTPError as exc:
                why = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    with self.counters.lock:
                        self.counters.replayed += len(job.rows)
                    return
                why = f"HTTP {response.status_code}: {response.text[:300]}"
                if 400 <= response.status_code < 500 and response.status_code not in (404, 408, 429):
                    break  # the challenger refuses these rows: asking again gets the same answer
            if attempt + 1 < self.tries and self.stop_event.wait(self.first_retry_sec * 2 ** attempt):
                break
        self._lost(job.deployment_id, [job.model_id], len(job.rows), "failed", f"{url} answered {why}")

    def _lost(self, deployment_id: str, models: list[str], rows: int, how: str, why: str) -> None:
        """Count rows that lost their replay and say so (an event at most once a minute per challenger)."""
        with self.counters.lock:
            setattr(self.counters, how, getattr(self.counters, how) + rows * len(models))
        for model_id in models:
            now = time.monotonic()
            if now - self._said.get((deployment_id, model_id), -EVENT_EVERY_SEC) < EVENT_EVERY_SEC:
                continue
            self._said[(deployment_id, model_id)] = now
            message = (f"challenger {model_id} of deployment {deployment_id}: {rows} row(s) not replayed ({how}): "
                       f"{why}; its stats miss them ({self.counters.snapshot()[how]} {how} so far by agent "
                       f"{self.agent_id})")
            log.warning(message)
            try:
                self.client.post_event(REPLAY_FAILED, "warning", message, deployment_id=deployment_id,
                                       data={"modelId": model_id, "rows": rows, "how": how, "agentId": self.agent_id})
            except BosunError as exc:
                log.warning("could not post the %s event: %s", REPLAY_FAILED, exc)
