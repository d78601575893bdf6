"""The environment stack seen through its plugin: component health to the service, monitoring agents by backlog."""
from __future__ import annotations

import logging
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
Json = dict[str, Any]


class EnvironmentWatch:
    """Ask the default environment's plugin for pe_status; report its components; scale monitoring agents."""

    def __init__(self, config: Config, client: ServiceClient, reporter: Reporter,
                 host: PluginHost | None = None) -> None:
        self.config = config
        self.client = client
        self.reporter = reporter
        self.agent_id = reporter.agent_id
        self.host = host or PluginHost(DataDir(config.data_dir).agent_dir, facts=plugin_facts(config))
        self._depth = 0
        self._env: Json = {}
        # Spools besides the stack's RabbitMQ that its monitoring agents read (the SQS queue of `spool: sqs`).
        self.channels: list[ChannelConfig] = list(scaled_channels(config))
        self.scaler = BacklogScaler(self._set_monitoring_replicas, lambda: self._depth,
                                    ScalerPolicy(per_agent=int(config["monitoringAgentBacklog"]),
                                                 target_concurrency=int(config["monitoringAgentsMax"])))

    @property
    def queue_depth(self) -> int:
        """Return the spool depth pe_status last reported."""
        return self._depth

    def _config(self, env: Json, **extra: Any) -> Json:
        # The queue that drives the scaler is the one the stack's monitoring agents consume: this agent's config's.
        plugin_config = {**(env.get("pluginConfig") or {}), "rabbitmqQueueName": self.config["rabbitmqQueueName"]}
        return {"pluginConfig": plugin_config, "peInfo": {"id": env["id"], "name": env["name"], "deployments": []},
                **extra}

    def _environment(self) -> Json | None:
        """Return the default environment: the one the environment stack serves."""
        return next((e for e in self.client.list_environments() if e.get("isDefault")), None)

    def tick(self) -> None:
        """Read pe_status, report its components, then let the scaler act on the backlog just read."""
        env = self._environment()
        if env is None:
            return
        self._env = env
        status = self.host.run(env, PluginAction.PE_STATUS, self._config(env))
        # Either this check or the watcher's may be the one that relaunched a killed component: both record it.
        self.reporter.plugin_events(env["id"], status.data)
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
        self.client.report_component(name, str(entry.get("status") or ActionStatus.UNKNOWN),
                                     str(entry.get("detail") or ""), agent_id=self.agent_id, data=data or None)

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
