"""Run the actions the agent claims: action config from the service, the plugin, the result back, the lease kept."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from bosun_local.agent.lanes import Lanes
from bosun_local.agent.metrics import ActionMetrics
from bosun_local.agent.plugin_host import PluginHost
from bosun_local.agent.settings import AgentSettings
from bosun_local.client import ServiceClient, ServiceError
from bosun_local.contracts.actions import PLUGIN_ACTION_FOR
from bosun_local.contracts.states import DeploymentState
from bosun_local.errors import BosunError
from bosun_local.plugins import ActionStatus, ActionStatusInfo

log = logging.getLogger(__name__)
COMPLETE_RETRY_SEC = 120.0


def transient(exc: BosunError) -> bool:
    """Return True when the service could not answer now (unreachable, or a 5xx such as a full disk's 507)."""
    return not isinstance(exc, ServiceError) or exc.status_code >= 500


class ActionWorker:
    """Claim actions while there is capacity, run each in its deployment's lane, renew leases, complete them."""

    def __init__(self, client_factory: Callable[[], ServiceClient], host: PluginHost, lanes: Lanes,
                 settings: AgentSettings) -> None:
        self.client = client_factory()
        self._lane_client = client_factory()
        self._renew_client = client_factory()
        self._client_lock = threading.Lock()
        self.host = host
        self.lanes = lanes
        self.settings = settings
        self._held: dict[str, dict[str, Any]] = {}
        self._held_lock = threading.Lock()
        self.completed = 0
        self.metrics = ActionMetrics()

    def held(self) -> list[str]:
        """Return the ids of the actions this agent holds."""
        with self._held_lock:
            return list(self._held)

    def claim_once(self, stopping: threading.Event | None = None) -> bool:
        """Claim one action if a lane is free (waiting in the service for one); return True when one was claimed."""
        if not self.lanes.has_capacity():
            return False
        action = self.client.claim_action(self.settings.agent_id, self.settings.lease_sec,
                                          wait_sec=self.settings.claim_wait_sec)
        if action is None:
            return False
        if stopping is not None and stopping.is_set():
            # The long poll answered while this agent stops: its lanes take nothing new.
            log.info("claimed %s %s of deployment %s while stopping; it runs again when its lease ends, or at once "
                     "when this agent restarts", action["id"], action["type"], action["deploymentId"])
            return True
        with self._held_lock:
            running = action["id"] in self._held
            self._held[action["id"]] = action
        if running:
            # Its lease ran out while the service was away, and this agent claimed it back: it is still running in
            # its lane, which will report it; a second run would do the same work again.
            log.info("claimed back %s %s of deployment %s, still running here (attempt %s)", action["id"],
                     action["type"], action["deploymentId"], action.get("attempts"))
            return True
        log.info("claimed %s %s of deployment %s (attempt %s)", action["id"], action["type"], action["deploymentId"],
                 action.get("attempts"))
        self.lanes.submit(action["deploymentId"], action["type"], lambda: self._run(action))
        return True

    def _call(self, fn: Callable[[ServiceClient], Any]) -> Any:
        with self._client_lock:
            return fn(self._lane_client)

    def _run(self, action: dict[str, Any]) -> None:
        started = time.monotonic()
        try:
            status = self._execute(action)
            self.metrics.observe(action["type"], str(status.status), time.monotonic() - started)
            self._complete(action, status)
        finally:
            with self._held_lock:
                self._held.pop(action["id"], None)

    def _execute(self, action: dict[str, Any]) -> ActionStatusInfo:
        started = time.monotonic()
        type_ = action["type"]
        plugin_action = PLUGIN_ACTION_FOR.get(type_)
        if plugin_action is None:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.UNKNOWN,
                                    msg=f"this agent does not know action type {type_!r}; known: "
                                        f"{', '.join(PLUGIN_ACTION_FOR)}", duration=0.0)
        deadline = time.monotonic() + COMPLETE_RETRY_SEC
        while True:
            try:
                config = self._call(lambda c: c.action_config(action["deploymentId"], type_, action_id=action["id"]))
                break
            except BosunError as exc:
                # A service that restarts or whose disk is full answers again soon: failing the action would lose it.
                if not transient(exc) or time.monotonic() > deadline:
                    return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR,
                                            duration=round(time.monotonic() - started, 4),
                                            msg=f"cannot get the action config of {type_} from the service: "
                                                f"{exc.message}")
                log.warning("cannot get the action config of %s %s yet: %s", type_, action["id"], exc.message)
                time.sleep(2.0)
        environment = config.get("environment") or {}
        log.info("running %s (%s) of deployment %s with %s", plugin_action, action["id"], action["deploymentId"],
                 environment.get("command") or f"the built-in {environment.get('platform')} plugin")
        status = self.host.run(environment, plugin_action, config)
        log.info("%s of deployment %s: %s in %.1f s: %s", plugin_action, action["deploymentId"], status.status,
                 status.duration or 0.0, (status.msg or "")[:300])
        return status

    def _complete(self, action: dict[str, Any], status: ActionStatusInfo) -> None:
        """Report the result; retry while the service is unreachable (the lease may run out: the re-run is safe)."""
        deadline = time.monotonic() + COMPLETE_RETRY_SEC
        body = status.to_dict()
        while True:
            try:
                self._call(lambda c: c.complete_action(action["id"], self.settings.agent_id, body))
                self.completed += 1
                return
            except BosunError as exc:
                if not transient(exc):
                    log.warning("the service refused the result of action %s (%s): %s; it will be re-run by "
                                "whoever holds it", action["id"], action["type"], exc.message)
                    return
                if time.monotonic() > deadline:
                    log.error("gave up reporting the result of action %s after %.0f s: %s; its lease will expire "
                              "and it will run again", action["id"], COMPLETE_RETRY_SEC, exc.message)
                    return
                log.warning("cannot report action %s yet: %s", action["id"], exc.message)
                time.sleep(2.0)

    def renew_all(self) -> None:
        """Extend the lease of every held action."""
        with self._held_lock:
            held = list(self._held.values())
        for action in held:
            try:
                self._renew_client.renew_action(action["id"], self.settings.agent_id, self.settings.lease_sec)
            except ServiceError as exc:
                log.warning("lost the lease of action %s (%s): %s", action["id"], action["type"], exc.message)
            except BosunError as exc:
                log.warning("cannot renew the lease of action %s: %s", action["id"], exc.message)
