"""Backlog scaler: the seed's serverless rule (one agent per N queued messages, up to a target) as a built-in."""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("bosun_local.monitoring.scaler")


@dataclass(frozen=True)
class ScalerPolicy:
    """Knobs of the rule; the defaults are the seed's Lambda recipe."""

    per_agent: int = 500
    target_concurrency: int = 4
    min_replicas: int = 1
    cooldown_sec: float = 30.0

    def __post_init__(self) -> None:
        if self.per_agent < 1 or self.target_concurrency < 1 or self.min_replicas < 0:
            raise ValueError(f"invalid scaler policy {self}: per_agent and target_concurrency must be >= 1, "
                             "min_replicas >= 0")
        if self.min_replicas > self.target_concurrency:
            raise ValueError(f"min_replicas {self.min_replicas} exceeds target_concurrency {self.target_concurrency}")

    def wanted(self, depth: int) -> int:
        """Return min(target, max(min, ceil(depth / per_agent))): the replicas a backlog asks for right now."""
        return min(self.target_concurrency, max(self.min_replicas, math.ceil(max(depth, 0) / self.per_agent)))


class BacklogScaler:
    """Decide and set the number of monitoring-agent replicas from the queue depth.

    Scaling up is immediate; scaling down waits until the backlog has asked for fewer replicas
    for a whole cool-down, so a queue that drains between two bursts does not make agents flap.
    """

    def __init__(self, set_replicas: Callable[[int], None], queue_depth: Callable[[], int],
                 policy: ScalerPolicy | None = None, current: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or ScalerPolicy()
        self.set_replicas = set_replicas
        self.queue_depth = queue_depth
        self.clock = clock
        # None until the first apply: then the first decision is always applied.
        self.current = current
        self._low_since: float | None = None

    def desired_replicas(self, depth: int, now: float) -> int:
        """Return the replicas to run for a depth at a time; no I/O, only the cool-down timer moves."""
        wanted = self.policy.wanted(depth)
        if self.current is None or wanted >= self.current:
            self._low_since = None
            return wanted
        if self._low_since is None:
            self._low_since = now
        if now - self._low_since >= self.policy.cooldown_sec:
            return wanted
        return self.current

    def apply(self, now: float | None = None) -> int:
        """Read the depth, decide, and set the replicas when the decision changed; return the decision."""
        depth = self.queue_depth()
        desired = self.desired_replicas(depth, self.clock() if now is None else now)
        if desired != self.current:
            log.info("queue depth %d: scaling monitoring agents %s -> %d", depth, self.current, desired)
            self.set_replicas(desired)
            self.current = desired
            self._low_since = None
        return desired

    def run(self, stop: threading.Event, interval_sec: float = 2.0) -> None:
        """Apply every interval until stop is set; a failed round (broker down) is logged and retried."""
        while not stop.is_set():
            try:
                self.apply()
            except Exception as exc:  # the scaler must outlive a broker restart
                log.warning("scaler round failed: %s", exc)
            stop.wait(interval_sec)
