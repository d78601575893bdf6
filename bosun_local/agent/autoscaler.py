"""Autoscaling of dedicated deployments: read each replica's /metrics, decide (autoscale_policy), queue a scale.

The plugin reports where each serving replica's metrics are (deployment status data.metricsUrls, docs/plugins.md);
this reads them every round, keeps a short window of samples per deployment and asks the service for a
deployment_scale when the decision changes, recording a `deployment_autoscaled` event with the figures. Scaling
goes through the action queue like a user's `deployments scale`, so it never races another action.
"""
from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bosun_local.agent.autoscale_policy import Decision, Sample, ScaleState, decide, window_load
from bosun_local.agent.reporting import Reporter
from bosun_local.client import ServiceClient
from bosun_local.contracts.autoscale import (
    AutoscaleConfigError,
    AutoscaleSettings,
    autoscale_settings,
    configured_replicas,
)
from bosun_local.contracts.states import DeploymentState
from bosun_local.errors import BosunError

log = logging.getLogger(__name__)
Json = dict[str, Any]
AUTOSCALED = "deployment_autoscaled"
INVALID = "deployment_autoscale_invalid"
# Routes that are not predictions: their latency says nothing about the model's load.
PROBE_ROUTES = {"/ping", "/health", "/info", "/metrics", "other"}
_LINE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Target:
    """A deployment the agent autoscales, as last observed."""

    deployment_id: str
    name: str
    environment_id: str
    settings: AutoscaleSettings
    replicas: int
    urls: list[str]
    busy: bool
    samples: list[Sample] = field(default_factory=list)
    state: ScaleState = field(default_factory=ScaleState)


def parse_metrics(text: str, deployment_id: str) -> tuple[float, dict[float, float]]:
    """Return (requests in flight, not counting the scrape; the deployment's prediction latency buckets by ms bound)."""
    in_flight, buckets = 0.0, dict[float, float]()
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        name, value = match["name"], float(match["value"])
        if name == "bosun_pps_requests_in_flight":
            in_flight = max(value - 1, 0.0)  # the gauge counts the /metrics request reading it
        elif name == "bosun_pps_request_duration_seconds_bucket":
            labels = dict(_LABEL.findall(match["labels"] or ""))
            if labels.get("deployment") in (deployment_id, "") and labels.get("route") not in PROBE_ROUTES:
                bound = math.inf if labels.get("le") == "+Inf" else float(labels.get("le", "inf")) * 1000
                buckets[bound] = buckets.get(bound, 0.0) + value
    return in_flight, buckets


class Autoscaler:
    """Decide and request replicas of every deployment whose keyValueConfig sets autoscaleMax."""

    def __init__(self, client_factory: Callable[[], ServiceClient], reporter: Reporter,
                 clock: Callable[[], float] = time.monotonic, timeout_sec: float = 2.0) -> None:
        self.client = client_factory()
        self.reporter = reporter
        self.clock = clock
        self._http = httpx.Client(timeout=timeout_sec)
        self._targets: dict[str, Target] = {}
        self._invalid: dict[str, str] = {}
        self._lock = threading.Lock()
        self.steps = 0

    def observe(self, env: Json, dep: Json, observed: Json, busy: bool) -> None:
        """Take one deployment's observed status (from the watcher's tick): what to scale and where its figures are."""
        kv = dep.get("keyValueConfig") or {}
        try:
            settings = autoscale_settings(kv, dep["id"])
        except AutoscaleConfigError as exc:
            self._drop(dep["id"])
            if self._invalid.get(dep["id"]) != str(exc):
                self._invalid[dep["id"]] = str(exc)
                self.reporter.event(INVALID, "failing", f"{exc.message}; not autoscaling it (fix: {exc.fix})",
                                    deployment_id=dep["id"], environment_id=env["id"], data={"fix": exc.fix})
            return
        self._invalid.pop(dep["id"], None)
        data = observed.get("data") or {}
        urls = [str(u) for u in data.get("metricsUrls") or []]
        if settings is None or dep.get("desiredState") != "running" or not urls:
            self._drop(dep["id"])
            return
        replicas = _replicas(kv, settings)
        ready = observed.get("state") == DeploymentState.READY and dep.get("state") == DeploymentState.READY
        with self._lock:
            target = self._targets.get(dep["id"])
            if target is None or target.settings != settings:
                target = self._targets[dep["id"]] = Target(dep["id"], dep.get("name") or dep["id"], env["id"],
                                                           settings, replicas, urls, busy)
            target.replicas, target.urls, target.busy = replicas, urls, busy or not ready

    def _drop(self, deployment_id: str) -> None:
        with self._lock:
            self._targets.pop(deployment_id, None)

    def targets(self) -> list[Target]:
        with self._lock:
            return list(self._targets.values())

    def tick(self) -> None:
        """Sample every autoscaled deployment once and act on the decisions."""
        for target in self.targets():
            sample = self._sample(target)
            if sample is None:
                continue
            now = sample.at
            target.samples = [s for s in target.samples if now - s.at <= target.settings.window_sec] + [sample]
            if target.busy or len(target.samples) < 2:
                continue  # an action owns the deployment, or one sample cannot time anything yet
            load = window_load(target.samples, now, target.settings.window_sec)
            decision = decide(target.settings, target.replicas, load, now, target.state)
            if decision.replicas != target.replicas:
                self._step(target, decision, load.__dict__, now)

    def _sample(self, target: Target) -> Sample | None:
        in_flight, buckets, answered = 0.0, dict[float, float](), 0
        for url in target.urls:
            try:
                response = self._http.get(url)
                if response.status_code != 200:
                    continue
            except httpx.HTTPError as exc:
                log.debug("autoscaler: %s: %s", url, exc)
                continue
            flying, bounds = parse_metrics(response.text, target.deployment_id)
            answered += 1
            in_flight += flying
            for bound, count in bounds.items():
                buckets[bound] = buckets.get(bound, 0.0) + count
        if not answered:
            return None
        return Sample(self.clock(), answered, in_flight, tuple(sorted(buckets.items())) or None)

    def _step(self, target: Target, decision: Decision, load: Json, now: float) -> None:
        before = target.replicas
        detail = {"from": before, "to": decision.replicas, "reason": decision.reason,
                  "load": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in load.items()},
                  "min": target.settings.min_replicas, "max": target.settings.max_replicas}
        try:
            self.client.scale_deployment(target.deployment_id, decision.replicas, reason="autoscale", detail=detail)
        except BosunError as exc:
            log.warning("autoscaler: cannot scale deployment %s to %d: %s", target.name, decision.replicas,
                        exc.message)
            return
        self.steps += 1
        target.state.last_step_at = now
        target.samples.clear()  # the next decision reads the new replicas' figures
        target.busy = True  # until the watcher sees the scale done
        target.replicas = decision.replicas
        verb = "out" if decision.replicas > before else "in"
        self.reporter.event(AUTOSCALED, "info", f"deployment {target.name} autoscaled {verb} {before} -> "
                            f"{decision.replicas} replicas: {decision.reason}", deployment_id=target.deployment_id,
                            environment_id=target.environment_id, data=detail)


def _replicas(kv: Json, settings: AutoscaleSettings) -> int:
    """Return the replicas a deployment runs by its keyValueConfig (the plugin refused a start on a bad value)."""
    try:
        return int(str(configured_replicas(kv, settings)))
    except ValueError:
        return settings.min_replicas
