"""The environment stack seen through its plugin: component health to the service, monitoring agents by backlog."""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from bosun_local.agent.backlog_scaler import BacklogScaler, ScalerPolicy
from bosun_local.agent.plugin_facts import plugin_facts
from bosun_local.agent.plugin_host import PluginHost
from bosun_local.agent.reporting import Reporter
from bosun_local.client import ServiceClient
from bosun_local.config import Config
from bosun_local.contracts.actions import PluginAction
from bosun_local.contracts.labels import MONITORING_AGENT
from bosun_local.contracts.layout import DataDir
from bosun_local.contracts.states import ActionStatus
from bosun_local.errors import BosunError
from bosun_local.host import scaled_channels
from bosun_local.plugins import ActionStatusInfo
from bosun_local.spool import registry
from bosun_local.spool.transport import ChannelConfig

log = logging.getLogger(__name__)
MONITORING_SERVICE = MONITORING_AGENT
# An unchanged component is reported again this often, well inside the service's staleness limit (3 agent-offline
# periods, 180 s by default), so its entry never reads "unknown" while the agent lives.
COMPONENT_REFRESH_SEC = 45.0
Json = dict[str, Any]


class EnvironmentWatch:
    """Ask the default environment's plugin for pe_status; report its components; scale monitoring agents."""

    def __init__(self, config: Config, client: ServiceClient, reporter: Reporter,
                 host: PluginHost | None = None, min_spacing_sec: float = 0.0) -> None:
        self.config = config
        self.client = client
        self.reporter = reporter
        self.agent_id = reporter.agent_id
        self.host = host or PluginHost(DataDir(config.data_dir).agent_dir, facts=plugin_facts(config))
        self._depth = 0
        self._env: Json = {}
        # The watcher's latest pe_status of the default environment: one check serves both (agent.py wires it).
        self._offered: tuple[Json, ActionStatusInfo] | None = None
        self._offer_lock = threading.Lock()
        self.fresh = threading.Event()
        # Observing asks the plugin how many monitoring agents run: not more often than this.
        self.min_spacing_sec = min_spacing_sec
        self._observed_at = float("-inf")
        # What each component last reported, and when: unchanged reports are resent only every COMPONENT_REFRESH_SEC.
        self._reported: dict[str, tuple[tuple[str, str, str], float]] = {}
        # Spools besides the stack's RabbitMQ that its monitoring agents read (the SQS queue of `spool: sqs`).
        self.channels: list[ChannelConfig] = list(scaled_channels(config))
        self.scaler = BacklogScaler(self._set_monitoring_replicas, lambda: self._depth,
                                    ScalerPolicy(per_agent=int(config["monitoringAgentBacklog"]),
                                                 target_concurrency=int(config["monitoringAgentsMax"])))

    @property
    def queue_depth(self) -> int:
        """Return the spool depth pe_status last reported."""
        return self._depth

    def plugin_config(self, env: Json) -> Json:
        """Return the default environment's pluginConfig as its pe_status should get it."""
        # The queue that drives the scaler is the one the stack's monitoring agents consume: this agent's config's.
        return {**(env.get("pluginConfig") or {}), "rabbitmqQueueName": self.config["rabbitmqQueueName"]}

    def _config(self, env: Json, **extra: Any) -> Json:
        return {"pluginConfig": self.plugin_config(env),
                "peInfo": {"id": env["id"], "name": env["name"], "deployments": []}, **extra}

    def _environment(self) -> Json | None:
        """Return the default environment: the one the environment stack serves."""
        return next((e for e in self.client.list_environments() if e.get("isDefault")), None)

    def tick(self) -> None:
        """Run pe_status of the default environment and observe it (without a watcher to offer one)."""
        env = self._environment()
        if env is None:
            return
        status = self.host.run(env, PluginAction.PE_STATUS, self._config(env))
        self.reporter.plugin_events(env["id"], status.data)
        self.observe(env, status)

    def offer(self, env: Json, status: ActionStatusInfo) -> None:
        """Hand over the watcher's pe_status of the default environment; the environment thread observes it."""
        with self._offer_lock:
            self._offered = (env, status)
        self.fresh.set()

    def observe_offered(self) -> None:
        """Observe the last offered pe_status, if one came since the last observation and that is old enough."""
        with self._offer_lock:
            if time.monotonic() - self._observed_at < self.min_spacing_sec:
                return  # kept: a later offer wakes this thread again and the latest one is observed then
            offered, self._offered = self._offered, None
        if offered is not None:
            self._observed_at = time.monotonic()
            self.observe(*offered)

    def observe(self, env: Json, status: ActionStatusInfo) -> None:
        """Report pe_status's components, then let the scaler act on the backlog just read."""
        self._env = env
        components = (status.data or {}).get("components")
        if not isinstance(components, dict):
            log.debug("environment %s: pe_status reports no components: %s", env["name"], status.msg)
            return
        for name, entry in components.items():
            self._report(str(name), entry)
        depths = [d for d in [(components.get("rabbitmq") or {}).get("queueDepth"), *self._spool_depths()]
                  if isinstance(d, int)]
        if depths and self._monitoring_runs_in_stack(env):
            self._depth = sum(depths)
            self.scaler.apply()

    def _spool_depths(self) -> list[int | None]:
        """Return the backlog of each spool besides RabbitMQ (SQS: ApproximateNumberOfMessages), reported too."""
        depths: list[int | None] = []
        for channel in self.channels:
            try:
                stats = registry.stats(channel)
            except BosunError as exc:
                self._report(channel.name, {"status": ActionStatus.ERROR, "detail": exc.message})
                depths.append(None)
                continue
            self._report(channel.name, {"status": ActionStatus.OK, "queueDepth": stats.depth,
                                        "inFlight": stats.consumers,
                                        "detail": f"{channel.describe()}: {stats.depth} visible, "
                                                  f"{stats.consumers} in flight"})
            depths.append(stats.depth)
        return depths

    def _report(self, name: str, entry: Any) -> None:
        if not isinstance(entry, dict):
            return
        data = {k: v for k, v in entry.items() if k not in ("status", "detail")}
        status, detail = str(entry.get("status") or ActionStatus.UNKNOWN), str(entry.get("detail") or "")
        key = (status, detail, json.dumps(data, sort_keys=True, default=str))
        last = self._reported.get(name)
        if last is not None and last[0] == key and time.monotonic() - last[1] < COMPONENT_REFRESH_SEC:
            return  # nothing new: an idle stack would otherwise write the same entry every few seconds
        self.client.report_component(name, status, detail, agent_id=self.agent_id, data=data or None)
        self._reported[name] = (key, time.monotonic())

    def _scale(self, env: Json, replicas: int | None) -> ActionStatusInfo:
        extra = {} if replicas is None else {"scaleInfo": {"replicas": replicas}}
        return self.host.run(env, PluginAction.MONITORING_SCALE, self._config(env, **extra))

    def _monitoring_runs_in_stack(self, env: Json) -> bool:
        status = self._scale(env, None)
        replicas = (status.data or {}).get("replicas")
        if status.status == ActionStatus.ERROR or not isinstance(replicas, int):
            log.debug("environment %s: no monitoring agents to scale: %s", env["name"], status.msg)
            return False
        if self.scaler.current is None:
            self.scaler.current = replicas or None
        return replicas > 0

    def _set_monitoring_replicas(self, replicas: int) -> None:
        before = self.scaler.current
        status = self._scale(self._env, replicas)
        if status.status == ActionStatus.ERROR:
            raise BosunError(f"scaling the monitoring agents to {replicas} failed: {status.msg}",
                             fix="see the management agent's log")
        self.reporter.event("monitoring_agents_scaled", "info",
                            f"monitoring agents scaled {before} -> {replicas} (spool queue depth "
                            f"{self._depth}, one agent per {self.scaler.policy.per_agent})",
                            data={"replicas": replicas, "queueDepth": self._depth})
