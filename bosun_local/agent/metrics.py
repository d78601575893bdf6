"""The management agent's Prometheus metrics: actions by type and outcome, their durations, heals, scaling."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from bosun_local.metrics.exposition import ACTION_BUCKETS, Counters, Exposition, Histograms, process_families

if TYPE_CHECKING:
    from bosun_local.agent.agent import ManagementAgent


class ActionMetrics:
    """Finished plugin actions: counts by (type, outcome), durations by type (lanes run in threads: a lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.finished = Counters()
        self.durations = Histograms(ACTION_BUCKETS)

    def observe(self, type_: str, outcome: str, seconds: float) -> None:
        """Count one finished action."""
        with self._lock:
            self.finished.inc((type_, outcome))
            self.durations.observe((type_,), seconds)

    def render(self, out: Exposition) -> None:
        """Add the action families."""
        with self._lock:
            out.counter("bosun_agent_actions_total", "Actions this agent ran, by type and plugin outcome.",
                        self.finished.samples(("type", "outcome")))
            out.histogram("bosun_agent_action_duration_seconds", "Time an action took, plugin run included.",
                          self.durations.bounds, self.durations.samples(("type",)))


def render(agent: ManagementAgent) -> bytes:
    """Render the management agent's families."""
    out = Exposition()
    agent.worker.metrics.render(out)
    out.gauge("bosun_agent_actions_running", "Actions running now (one lane per deployment).",
              [({}, len(agent.lanes.active()))])
    out.counter("bosun_agent_heals_total", "Deployments the agent restarted or relaunched because they were unhealthy.",
                [({}, agent.watcher.heals)])
    out.counter("bosun_agent_autoscale_steps_total", "Scale actions the autoscaler queued for deployments.",
                [({}, agent.autoscaler.steps)])
    out.gauge("bosun_agent_autoscaled_deployments", "Deployments the autoscaler watches (autoscaleMax set, serving).",
              [({}, len(agent.autoscaler.targets()))])
    environment = agent.environment
    if environment is not None:
        scaler = environment.scaler
        depth = environment.queue_depth
        out.gauge("bosun_agent_spool_depth", "Records waiting in the stack's spool queue (what the scaler reads).",
                  [({}, depth)])
        out.gauge("bosun_agent_monitoring_agents_wanted", "Monitoring agents the backlog asks for.",
                  [({}, scaler.policy.wanted(depth))])
        if scaler.current is not None:
            out.gauge("bosun_agent_monitoring_agents_running", "Monitoring agents the scaler last set running.",
                      [({}, scaler.current)])
    process_families(out)
    return out.text()
