"""The monitoring agent's Prometheus metrics: records stored and dead-lettered, batches, retries, spool depth."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bosun_local.metrics.exposition import Exposition, process_families

if TYPE_CHECKING:
    from bosun_local.monitoring.agent import MonitoringAgent

log = logging.getLogger("bosun_local.monitoring")
DEPTH_TIMEOUT_SEC = 2.0


def render(agent: MonitoringAgent) -> bytes:
    """Render the agent's families; the spool depth is asked of each channel now (one short call per channel)."""
    from bosun_local.spool import registry

    snap = agent.counters.snapshot()
    out = Exposition()
    out.counter("bosun_monitoring_records_stored_total", "Spool records aggregated and stored by the service.",
                [({}, snap["stored"])])
    out.counter("bosun_monitoring_records_duplicate_total", "Records the service already had (redeliveries).",
                [({}, snap["duplicates"])])
    out.counter("bosun_monitoring_records_dead_lettered_total", "Records that could not be used and went to the "
                "channel's dead-letter queue or directory.", [({}, snap["rejected"])])
    out.counter("bosun_monitoring_rows_total", "Prediction rows in the stored records.", [({}, snap["rows"])])
    out.counter("bosun_monitoring_batches_total", "Batches read from the spool.", [({}, snap["batches"])])
    out.counter("bosun_monitoring_retries_total", "Batches held and retried because the service was unreachable.",
                [({}, snap["retries"])])
    replay = agent.replay.counters.snapshot()
    out.counter("bosun_monitoring_replay_rows_total", "Champion rows sent on to replay-fed challengers, by outcome "
                "(failed: the challenger refused or did not answer; dropped: the replay queue was full).",
                [({"outcome": outcome}, replay[outcome]) for outcome in ("replayed", "failed", "dropped")])
    depths = []
    for channel in agent.config.channels:
        try:
            depths.append(({"channel": channel.name}, registry.stats(channel, DEPTH_TIMEOUT_SEC).depth))
        except Exception as exc:  # an unreachable spool leaves the series out: Prometheus shows the gap
            log.warning("spool depth of channel %s for /metrics: %s", channel.name, exc)
    out.gauge("bosun_monitoring_spool_depth", "Records waiting in each channel this agent reads.", depths)
    with agent.counters.lock:
        seen = len(agent.deployments)
    out.gauge("bosun_monitoring_deployments_seen", "Deployments this agent has stored figures for.", [({}, seen)])
    process_families(out)
    return out.text()
