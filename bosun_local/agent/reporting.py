"""What the agent tells the service besides action results: events and observed deployment status."""
from __future__ import annotations

import logging
import threading
from typing import Any

from bosun_local.client import ServiceClient
from bosun_local.contracts.states import HEALTH_STATUSES
from bosun_local.errors import BosunError

log = logging.getLogger(__name__)
# ActionStatus -> the service's health vocabulary: the same words (contracts.states).
HEALTH = {status: status for status in HEALTH_STATUSES}


class Reporter:
    """Post events and status observations; a service outage is logged, never raised into the agent's loops."""

    def __init__(self, client: ServiceClient, agent_id: str) -> None:
        self.client = client
        self.agent_id = agent_id
        self._lock = threading.Lock()

    def event(self, type_: str, status: str, message: str, deployment_id: str | None = None,
              environment_id: str | None = None, data: dict[str, Any] | None = None) -> None:
        """Record an event (status: passing, warning, failing, unknown or info)."""
        log.info("event %s [%s] %s", type_, status, message)
        try:
            with self._lock:
                self.client.post_event(type_, status, message[:19000], deployment_id=deployment_id,
                                       environment_id=environment_id, data={"agentId": self.agent_id, **(data or {})})
        except BosunError as exc:
            log.warning("could not record event %s: %s", type_, exc.message)

    def plugin_events(self, environment_id: str, data: dict[str, Any] | None) -> None:
        """Record the events a plugin returned in a status's data (what it did on its own while checking)."""
        for event in (data or {}).get("events") or []:
            if isinstance(event, dict) and event.get("type"):
                self.event(str(event["type"]), str(event.get("status") or "info"),
                           str(event.get("message") or event["type"]), environment_id=environment_id,
                           data=event.get("data") if isinstance(event.get("data"), dict) else None)

    def deployment_status(self, deployment_id: str, state: str | None = None, health: str | None = None,
                          message: str | None = None) -> bool:
        """Report an observed state and health; return False when the service could not be told."""
        try:
            with self._lock:
                self.client.update_deployment_status(deployment_id, state=state, health_status=health,
                                                     message=(message or "")[:3900] or None)
            return True
        except BosunError as exc:
            log.warning("could not report the status of deployment %s: %s", deployment_id, exc.message)
            return False

    def heartbeat(self, data: dict[str, Any]) -> None:
        """Tell the service this management agent is alive (errors propagate: the caller's loop logs them)."""
        with self._lock:
            self.client.heartbeat(self.agent_id, "management", data)
