"""Backlog scaler: the seed's serverless rules for monitoring agents, on any spool that reports a depth.

The seed's recipe (a scheduler recruiting Lambda-hosted agents from an SQS queue), exactly:

- one agent per ``per_agent`` (itemsPerAgent, default 500) approximately queued messages, up to
  ``target_concurrency`` (and at least ``min_replicas``, our addition for a long-running stack);
- no recruiting while any agent errored in the last ``error_window_sec`` (default 3600): the count may
  shrink, never grow (beyond ``min_replicas``), until the window has passed;
- an agent that reaches ``max_run_sec`` (the function's time limit) stops; with backlog left it is replaced
  by a fresh one (a handover, allowed inside the error window since it adds no agent), else it just stops.

Scaling down waits for a cool-down so a queue drained between two bursts does not make agents flap.
Every round's state is in ``state()``; changes of decision are reported through ``on_event``.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("bosun_local.monitoring.scaler")

# on_event(type, message, data): how a scaler says what it decided (service events, JSON lines).
EventSink = Callable[[str, str, dict[str, Any]], None]
SCALED = "monitoring_agents_scaled"
RECRUITING_BLOCKED = "monitoring_agents_recruiting_blocked"
HANDOVER = "monitoring_agent_handover"
EXPIRED = "monitoring_agent_expired"


@dataclass(frozen=True)
class ScalerPolicy:
    """Knobs of the rules; the defaults are the seed's."""

    per_agent: int = 500
    target_concurrency: int = 4
    min_replicas: int = 1
    cooldown_sec: float = 30.0
    error_window_sec: float = 3600.0
    max_run_sec: float = 0.0  # 0: agents run until the backlog lets them go

    def __post_init__(self) -> None:
        if self.per_agent < 1 or self.target_concurrency < 1 or self.min_replicas < 0:
            raise ValueError(f"invalid scaler policy {self}: per_agent and target_concurrency must be >= 1, "
                             "min_replicas >= 0")
        if self.min_replicas > self.target_concurrency:
            raise ValueError(f"min_replicas {self.min_replicas} exceeds target_concurrency {self.target_concurrency}")
        if self.error_window_sec < 0 or self.max_run_sec < 0:
            raise ValueError(f"invalid scaler policy {self}: error_window_sec and max_run_sec must be >= 0")

    def wanted(self, depth: int) -> int:
        """Return min(target, max(min, ceil(depth / per_agent))): the replicas a backlog asks for right now."""
        return min(self.target_concurrency, max(self.min_replicas, math.ceil(max(depth, 0) / self.per_agent)))


class Replicas(Protocol):
    """What the error-window and time-limit rules need from whatever runs the agents (optional)."""

    def error_times(self) -> Sequence[float]:
        """Return the clock times at which agents failed (exited on their own with an error, or were killed)."""
        ...

    def run_times(self, now: float) -> Sequence[float]:
        """Return how long each running agent has run, in seconds."""
        ...

    def stop_expired(self, max_run_sec: float, replace: bool) -> int:
        """Stop the agents that ran max_run_sec or longer, starting a fresh one for each if replace; return how many."""
        ...


class BacklogScaler:
    """Decide and set the number of monitoring-agent replicas from the queue depth, by the seed's rules."""

    def __init__(self, set_replicas: Callable[[int], None], queue_depth: Callable[[], int],
                 policy: ScalerPolicy | None = None, current: int | None = None,
                 clock: Callable[[], float] = time.monotonic, replicas: Replicas | None = None,
                 on_event: EventSink | None = None) -> None:
        self.policy = policy or ScalerPolicy()
        self.set_replicas = set_replicas
        self.queue_depth = queue_depth
        self.clock = clock
        self.replicas = replicas
        self.on_event = on_event
        # None until the first apply: then the first decision is always applied.
        self.current = current
        self._low_since: float | None = None
        self._errors: list[float] = []
        self._blocked = False
        self.handovers = 0
        self.expired = 0
        self.rounds = 0
        self.last: dict[str, Any] = {}

    def note_error(self, when: float | None = None) -> None:
        """Record an agent failure (for callers that learn of failures themselves)."""
        self._errors.append(self.clock() if when is None else when)

    def last_error_age(self, now: float) -> float | None:
        """Return the seconds since the latest agent failure, None when there was none."""
        times = [*self._errors, *(self.replicas.error_times() if self.replicas else ())]
        return now - max(times) if times else None

    def recruiting_blocked(self, now: float) -> bool:
        """Return True while an agent failure is younger than the error window."""
        age = self.last_error_age(now)
        return age is not None and age < self.policy.error_window_sec

    def desired_replicas(self, depth: int, now: float) -> int:
        """Return the replicas to run for a depth at a time; no I/O, only the cool-down timer moves."""
        wanted = self.policy.wanted(depth)
        if self.current is not None and wanted > self.current and self.recruiting_blocked(now):
            wanted = max(self.current, self.policy.min_replicas)
        if self.current is None or wanted >= self.current:
            self._low_since = None
            return wanted
        if self._low_since is None:
            self._low_since = now
        if now - self._low_since >= self.policy.cooldown_sec:
            return wanted
        return self.current

    def apply(self, now: float | None = None) -> int:
        """Read the depth, hand over expired agents, decide, set the replicas when the decision changed."""
        now = self.clock() if now is None else now
        depth = self.queue_depth()
        self.rounds += 1
        self._hand_over(depth)
        if self.replicas is not None and self.current is not None:
            # Agents that died or expired are gone whatever was decided; count what runs.
            self.current = min(self.current, len(self.replicas.run_times(now)))
        blocked = self.recruiting_blocked(now)
        if blocked and not self._blocked:
            age, window = self.last_error_age(now) or 0.0, self.policy.error_window_sec
            self._event(RECRUITING_BLOCKED, f"an agent failed {age:.0f} s ago: no new monitoring agents for "
                        f"{window - age:.0f} s (error window {window:.0f} s)",
                        {"lastErrorAgeSec": round(age, 1), "errorWindowSec": window})
        self._blocked = blocked
        desired = self.desired_replicas(depth, now)
        if desired != self.current:
            before = self.current
            log.info("queue depth %d: scaling monitoring agents %s -> %d", depth, before, desired)
            self.set_replicas(desired)
            self.current = desired
            self._low_since = None
            self._event(SCALED, f"monitoring agents scaled {before} -> {desired} (queue depth {depth}, one agent "
                        f"per {self.policy.per_agent})", {"replicas": desired, "before": before, "queueDepth": depth})
        self.last = self._state(depth, now)
        return desired

    def _hand_over(self, depth: int) -> None:
        """Stop agents past their time limit; replace them when backlog is left (the seed's handover)."""
        if not self.policy.max_run_sec or self.replicas is None:
            return
        replace = depth > 0
        stopped = self.replicas.stop_expired(self.policy.max_run_sec, replace)
        if not stopped:
            return
        if replace:
            self.handovers += stopped
            self._event(HANDOVER, f"{stopped} monitoring agent(s) reached the {self.policy.max_run_sec:.0f} s limit "
                        f"with {depth} message(s) queued and handed over to fresh ones", {"agents": stopped,
                                                                                          "queueDepth": depth})
        else:
            self.expired += stopped
            self._event(EXPIRED, f"{stopped} monitoring agent(s) reached the {self.policy.max_run_sec:.0f} s limit "
                        "with nothing queued and stopped", {"agents": stopped, "queueDepth": depth})

    def _event(self, type_: str, message: str, data: dict[str, Any]) -> None:
        log.info(message)
        if self.on_event is not None:
            try:
                self.on_event(type_, message, data)
            except Exception as exc:  # a lost event must not stop the scaling
                log.warning("could not report %s: %s", type_, exc)

    def _state(self, depth: int, now: float) -> dict[str, Any]:
        age = self.last_error_age(now)
        runs = list(self.replicas.run_times(now)) if self.replicas else []
        return {"queueDepth": depth, "wanted": self.policy.wanted(depth), "replicas": self.current,
                "recruitingBlocked": self.recruiting_blocked(now),
                "lastErrorAgeSec": None if age is None else round(age, 1),
                "agentErrors": len(self._errors) + len(self.replicas.error_times() if self.replicas else ()),
                "handovers": self.handovers, "expired": self.expired,
                "oldestAgentSec": round(max(runs), 1) if runs else None, "rounds": self.rounds,
                "policy": {"itemsPerAgent": self.policy.per_agent,
                           "targetConcurrency": self.policy.target_concurrency,
                           "minReplicas": self.policy.min_replicas, "cooldownSec": self.policy.cooldown_sec,
                           "errorWindowSec": self.policy.error_window_sec, "maxRunSec": self.policy.max_run_sec}}

    def state(self) -> dict[str, Any]:
        """Return the last round's state: depth, decision, error window, handovers, policy (JSON-ready)."""
        return dict(self.last)

    def run(self, stop: threading.Event, interval_sec: float = 2.0,
            on_round: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Apply every interval until stop is set; a failed round (broker down) is logged and retried."""
        while not stop.is_set():
            try:
                self.apply()
                if on_round is not None:
                    on_round(self.state())
            except Exception as exc:  # the scaler must outlive a broker restart
                log.warning("scaler round failed: %s", exc)
            stop.wait(interval_sec)
