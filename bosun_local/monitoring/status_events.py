"""Service-health and drift statuses of deployments, posted as events when they change."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from bosun_local.client import ServiceClient, ServiceError
from bosun_local.contracts.states import HEALTH_STATUSES

log = logging.getLogger("bosun_local.monitoring")

SERVICE_HEALTH_CHANGED = "service_health_changed"
DRIFT_STATUS_CHANGED = "drift_status_changed"
RECORDS_REJECTED = "records_rejected"
CHANNEL_STUCK = "monitoring_channel_stuck"
CHANNEL_RECOVERED = "monitoring_channel_recovered"
STATUSES = HEALTH_STATUSES


def statuses_of(stats: dict[str, Any]) -> dict[str, str]:
    """Return {event type: status} read from a deployment's stats answer."""
    health = stats.get("serviceHealth")
    if isinstance(health, dict):  # tolerate a richer {status, ...} object
        health = health.get("status")
    drift = (stats.get("drift") or {}).get("status")
    return {SERVICE_HEALTH_CHANGED: health if health in STATUSES else "unknown",
            DRIFT_STATUS_CHANGED: drift if drift in STATUSES else "unknown"}


def describe(type_: str, before: str | None, after: str, stats: dict[str, Any]) -> str:
    """Return the event message of a status change."""
    what = "service health" if type_ == SERVICE_HEALTH_CHANGED else "drift"
    detail = ""
    if type_ == SERVICE_HEALTH_CHANGED:
        detail = (f" (error rate {stats.get('errorRate', 0) or 0:.1%}, p95 latency "
                  f"{stats.get('latencyP95Ms') or 0:.0f} ms over {stats.get('window', '?')} s)")
    else:
        drift = stats.get("drift") or {}
        values = {"prediction": drift.get("prediction"), **(drift.get("features") or {})}
        worst = max(((k, v) for k, v in values.items() if isinstance(v, int | float)), key=lambda kv: kv[1],
                    default=None)
        if worst:
            detail = f" (largest PSI {worst[1]:.3f} on {worst[0]})"
    return f"{what} {before or 'unknown'} -> {after}{detail}"


class StatusWatcher:
    """Polls stats of the deployments this agent ingested for and posts an event on each status change.

    The last status is taken from the service's newest event of that type the first time a deployment
    is seen, so an agent restart (or a second agent) does not repeat events that were already posted.
    """

    def __init__(self, client: ServiceClient, agent_id: str) -> None:
        self.client = client
        self.agent_id = agent_id
        self.last: dict[tuple[str, str], str] = {}

    def _previous(self, deployment_id: str, type_: str) -> str | None:
        key = (deployment_id, type_)
        if key not in self.last:
            events = self.client.list_events(deployment=deployment_id, types=[type_], limit=1)
            self.last[key] = events[0]["status"] if events else "unknown"
        return self.last[key]

    def check(self, deployment_id: str) -> list[dict[str, Any]]:
        """Poll one deployment; post and return the events of changed statuses."""
        stats = self.client.stats(deployment_id)
        posted = []
        for type_, status in statuses_of(stats).items():
            before = self._previous(deployment_id, type_)
            if status == before:
                continue
            self.last[(deployment_id, type_)] = status
            message = describe(type_, before, status, stats)
            data = {"previous": before, "agentId": self.agent_id, "drift": stats.get("drift"),
                    "errorRate": stats.get("errorRate"), "latencyP95Ms": stats.get("latencyP95Ms")}
            posted.append(self.client.post_event(type_, status, message, deployment_id=deployment_id, data=data))
            log.info("deployment %s: %s", deployment_id, message)
        return posted

    def check_all(self, deployment_ids: Iterable[str]) -> int:
        """Poll each deployment (a failure of one is logged, the others still run); return events posted."""
        count = 0
        for deployment_id in sorted(set(deployment_ids)):
            try:
                count += len(self.check(deployment_id))
            except ServiceError as exc:
                if exc.status_code != 404:  # 404: no figures in the window (old records), nothing to watch
                    log.warning("status poll of deployment %s failed: %s", deployment_id, exc.message)
            except Exception as exc:  # keep watching the others when one deployment's stats fail
                log.warning("status poll of deployment %s failed: %s", deployment_id, exc)
        return count
