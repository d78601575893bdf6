"""The environment stack seen from the management agent: component health and backlog-scaled monitoring agents."""
from __future__ import annotations

import logging
import urllib.error
import urllib.request

import pika

from bosun_local.agent.reporting import Reporter
from bosun_local.client import ServiceClient
from bosun_local.config import Config
from bosun_local.contracts.rabbitmq import masked_url
from bosun_local.engine.adapter import EngineError
from bosun_local.envstack.environment import EnvironmentStack
from bosun_local.monitoring.scaler import BacklogScaler, ScalerPolicy
from bosun_local.spool.rabbitmq.reader import ConsumerConnectionError, queue_stats
from bosun_local.spool.transport import QueueStats

log = logging.getLogger(__name__)
MONITORING_SERVICE = "monitoring-agent"


class EnvironmentWatch:
    """Report traefik and RabbitMQ to the service, and scale the stack's monitoring agents by backlog."""

    def __init__(self, config: Config, client: ServiceClient, reporter: Reporter) -> None:
        self.config = config
        self.client = client
        self.reporter = reporter
        self.agent_id = reporter.agent_id
        self.stack = EnvironmentStack(config)
        self.traefik_url = str(config["traefikUrl"] or config["outfacingPredictionURLPrefix"]).rstrip("/")
        self.queue = str(config["rabbitmqQueueName"])
        self._last_stats = QueueStats(0, 0)
        self.scaler = BacklogScaler(self._set_monitoring_replicas, lambda: self._last_stats.depth,
                                    ScalerPolicy(per_agent=int(config["monitoringAgentBacklog"]),
                                                 target_concurrency=int(config["monitoringAgentsMax"])))

    def tick(self) -> None:
        """Check both components, report them, then let the scaler act on the backlog just read."""
        self._report_traefik()
        stats = self._report_rabbitmq()
        if stats is not None and self._monitoring_runs_in_stack():
            self._last_stats = stats
            self.scaler.apply()

    def _report_traefik(self) -> None:
        try:
            urllib.request.urlopen(f"{self.traefik_url}/", timeout=3)
            status, detail = "passing", f"answers on {self.traefik_url}"
        except urllib.error.HTTPError:  # any HTTP answer (404 without a route) means traefik is up
            status, detail = "passing", f"answers on {self.traefik_url}"
        except OSError as exc:
            status, detail = "failing", f"no answer on {self.traefik_url}: {exc}"
        self.client.report_component("traefik", status, detail, agent_id=self.agent_id)

    def _report_rabbitmq(self) -> QueueStats | None:
        url = self.stack.rabbitmq_url(host_side=True)
        try:
            stats = queue_stats(url, self.queue)
        except ConsumerConnectionError as exc:
            self.client.report_component("rabbitmq", "failing", exc.message, agent_id=self.agent_id)
            return None
        except (pika.exceptions.AMQPError, OSError) as exc:
            self.client.report_component("rabbitmq", "failing", f"cannot reach {masked_url(url)}: {exc!r}",
                                         agent_id=self.agent_id)
            return None
        status = "passing" if stats.consumers else "warning"
        detail = f"queue {self.queue}: {stats.depth} ready, {stats.consumers} consumer(s)"
        self.client.report_component("rabbitmq", status, detail, agent_id=self.agent_id,
                                     data={"queueDepth": stats.depth, "consumers": stats.consumers})
        return stats

    def _monitoring_runs_in_stack(self) -> bool:
        # Only scale what `up` started: an agent beside a partial stack (tests, development) never adds agents.
        if not self.stack.compose_file.exists():
            return False
        try:
            running = [s for s in self.stack.project().ps()
                       if s.service == MONITORING_SERVICE and s.status == "running"]
        except EngineError as exc:
            log.warning("cannot list the environment stack: %s", exc.message)
            return False
        if self.scaler.current is None:
            self.scaler.current = len(running) or None
        return bool(running)

    def _set_monitoring_replicas(self, replicas: int) -> None:
        before = self.scaler.current
        self.stack.project().scale(MONITORING_SERVICE, replicas)
        self.reporter.event("monitoring_agents_scaled", "info",
                            f"monitoring agents scaled {before} -> {replicas} (spool queue depth "
                            f"{self._last_stats.depth}, one agent per {self.scaler.policy.per_agent})",
                            data={"replicas": replicas, "queueDepth": self._last_stats.depth})
