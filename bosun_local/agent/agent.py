"""The management agent's main loop: wait for the service, reconcile, then claim, watch, renew, heartbeat."""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

from bosun_local.agent.action_worker import ActionWorker
from bosun_local.agent.autoscaler import Autoscaler
from bosun_local.agent.environment_watch import EnvironmentWatch
from bosun_local.agent.identity import AgentIdentity
from bosun_local.agent.lanes import Lanes
from bosun_local.agent.metrics import render as render_metrics
from bosun_local.agent.plugin_facts import plugin_facts
from bosun_local.agent.plugin_host import PluginHost
from bosun_local.agent.reporting import Reporter
from bosun_local.agent.route_errors import RouteErrors
from bosun_local.agent.self_check import SelfCheck
from bosun_local.agent.settings import AgentSettings
from bosun_local.agent.watch import Watcher
from bosun_local.client import ServiceClient
from bosun_local.config import Config, load_config
from bosun_local.contracts.layout import DataDir
from bosun_local.contracts.liveness import mark_alive
from bosun_local.errors import BosunError
from bosun_local.metrics.listener import listen_from_env

# Given the service client, the config and the agent's id, return a job that runs pending package checks.

PackageChecks = Callable[[ServiceClient, Config, str], Callable[[], object]]
log = logging.getLogger(__name__)
STOP_GRACE_SEC = 60.0
# A check of the environments that has not finished for this long is a stall (a hung engine or resolver).
STALL_MIN_SEC = 60.0
# Longest the environment thread sleeps between the watcher's checks (it is woken by each).
ENVIRONMENT_WAIT_SEC = 60.0


class ManagementAgent:
    """One agent process: actions run in per-deployment lanes; a watcher thread heals; the main thread claims."""

    def __init__(self, settings: AgentSettings | None = None, config: Config | None = None,
                 client_factory: Callable[[], ServiceClient] | None = None,
                 package_checks: PackageChecks | None = None) -> None:
        self.settings = settings or AgentSettings()
        # The sandbox runner comes from outside: the agent's own code never reaches the engine but by its plugin.
        self.package_checks = package_checks
        self.config = config or load_config()
        self.identity: AgentIdentity | None = None
        if not self.settings.agent_id:
            self.identity = AgentIdentity.claim(DataDir(self.config.data_dir).agent_dir)
            self.settings = dataclasses.replace(self.settings, agent_id=self.identity.agent_id)
        self.client_factory = client_factory or (lambda: ServiceClient(config=self.config))
        self.stopping = threading.Event()
        self.lanes = Lanes(self.settings.concurrency)
        client = self.client_factory()
        # Plugins get the service's URL and token, as DataRobot's agent gives them its MLOps URL and API token.
        self.host = PluginHost(DataDir(self.config.data_dir).agent_dir, self.settings.action_timeout_sec,
                               facts=plugin_facts(self.config), service_url=client.url, token=client.token)
        self.reporter = Reporter(client, self.settings.agent_id)
        self.worker = ActionWorker(self.client_factory, self.host, self.lanes, self.settings)
        self.watcher = Watcher(self.client_factory, self.host, self.lanes, self.settings, self.reporter)
        self.autoscaler = self.watcher.autoscaler = Autoscaler(self.client_factory, self.reporter)
        self._threads: list[threading.Thread] = []
        self._wakes: list[threading.Event] = []
        self.environment: EnvironmentWatch | None = None

    def stop(self) -> None:
        """Ask every loop to end (safe from a signal handler)."""
        self.stopping.set()
        for wake in self._wakes:
            wake.set()

    def _every(self, name: str, interval: Callable[[], float], fn: Callable[[], object],
               wake: threading.Event | None = None) -> None:
        """Run fn every interval seconds (sooner when `wake` is set) in a thread until stopped; errors are logged."""
        if wake is not None:
            self._wakes.append(wake)

        def loop() -> None:
            while not self.stopping.is_set():
                if wake is not None:
                    wake.clear()
                try:
                    fn()
                except BosunError as exc:
                    log.warning("%s: %s", name, exc.message)
                except Exception:  # keep the loop alive: one bad tick must not end healing for good
                    log.exception("%s failed", name)
                (wake or self.stopping).wait(interval())

        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait_for_service(self) -> bool:
        """Block until the service answers (logging while it does not); False if stopped first."""
        client = self.client_factory()
        waited = 0.0
        while not self.stopping.is_set():
            mark_alive()  # waiting for the service is living, not hanging
            try:
                client.health()
                client.list_environments()  # also proves the token is accepted
                return True
            except BosunError as exc:
                if waited == 0.0 or waited % 30 < 1:
                    log.warning("waiting for the MLOps service: %s", exc.message)
            self.stopping.wait(1.0)
            waited += 1.0
        return False

    def heartbeat(self) -> None:
        """Tell the service this agent lives and what it is doing."""
        mark_alive()
        self.reporter.heartbeat({
            "lanes": self.lanes.active(), "heldActions": self.worker.held(), "completed": self.worker.completed,
            "heals": self.watcher.heals})

    def run(self) -> int:
        """Run until stopped; return the process exit code."""
        log.info("management agent %s starting (data dir %s, service %s)", self.settings.agent_id,
                 self.config.data_dir, self.config["serviceUrl"])
        listener = listen_from_env(lambda: render_metrics(self))
        try:
            return self._run()
        finally:
            if listener is not None:
                listener.stop()

    def _run(self) -> int:
        if not self.wait_for_service():
            return 0
        self.reporter.event("agent_started", "info", f"management agent {self.settings.agent_id} started",
                            data={"concurrency": self.settings.concurrency, "leaseSec": self.settings.lease_sec})
        self._resume()
        try:
            self.watcher.reconcile()
        except BosunError as exc:
            log.warning("reconcile at start: %s (the periodic check will catch up)", exc.message)
        environment = self.environment = EnvironmentWatch(self.config, self.client_factory(), self.reporter, self.host,
                                                          min_spacing_sec=2 * self.settings.status_interval_sec)
        self.watcher.environment = environment
        self._every("lease-renewer", lambda: self.settings.lease_sec / 3, self.worker.renew_all)
        self._every("watcher", self.watcher.interval, self.watcher.tick, wake=self.watcher.wake)
        self._every("heartbeat", lambda: self.settings.heartbeat_sec, self.heartbeat)
        self._every("autoscaler", lambda: self.settings.status_interval_sec, self.autoscaler.tick)
        stall_sec = max(STALL_MIN_SEC, 10 * self.settings.status_interval_sec)
        check = SelfCheck(self.client_factory(), self.reporter,
                          [self.config["serviceUrl"], self.config["traefikUrl"], self.config["rabbitmqUrl"]],
                          job_probe=lambda: self.watcher.problems(stall_sec))
        self._every("self-check", lambda: self.settings.self_check_sec, check.tick)
        data_dir = DataDir(self.config.data_dir)
        route_errors = RouteErrors(data_dir.traefik_access_log, data_dir.agent_dir / "traefik-access-offset.json",
                                   self.client_factory(), max_bytes=int(self.config["traefikAccessLogMaxKB"]) * 1024)
        self._every("route-errors", lambda: self.settings.status_interval_sec, route_errors.tick)
        if self.settings.package_checks and self.package_checks is not None:
            drain = self.package_checks(self.client_factory(), self.config, self.settings.agent_id)
            self._every("package-checks", lambda: self.settings.poll_sec * 2, drain)
        # The watcher's pe_status of the default environment wakes it: one check feeds both.
        self._every("environment", lambda: ENVIRONMENT_WAIT_SEC, environment.observe_offered, wake=environment.fresh)
        # The claim loop long-polls the service: it runs beside the main thread, which a stop does not keep waiting.
        threading.Thread(target=self._claim_loop, name="claimer", daemon=True).start()
        self.stopping.wait()
        log.info("management agent stopping: waiting up to %.0f s for %d running jobs", STOP_GRACE_SEC,
                 len(self.lanes.active()))
        finished = self.lanes.wait_idle(STOP_GRACE_SEC)
        self.lanes.shutdown()
        self.reporter.event("agent_stopped", "info", f"management agent {self.settings.agent_id} stopped"
                            + ("" if finished else "; unfinished actions run again when their lease expires"))
        return 0

    def _resume(self) -> None:
        """Take back at once the actions an earlier run of this agent (same id) held when it died."""
        try:
            released = self.client_factory().release_actions(self.settings.agent_id)
        except BosunError as exc:
            log.warning("cannot resume this agent's unfinished actions (they run again when their lease ends): %s",
                        exc.message)
            return
        if released:
            log.info("resuming %d unfinished actions of an earlier run: %s", len(released),
                     ", ".join(f"{a['type']} {a['id']}" for a in released))

    def _claim_loop(self) -> None:
        backoff = self.settings.poll_sec
        while not self.stopping.is_set():
            mark_alive()
            try:
                claimed = self.worker.claim_once(self.stopping)
                backoff = self.settings.poll_sec
            except BosunError as exc:
                log.warning("claiming actions: %s", exc.message)
                claimed = False
                backoff = min(backoff * 2, 10.0)
            if claimed:
                self.watcher.wake.set()  # leave the idle pace at once: a deployment is about to change
            else:
                self.stopping.wait(backoff)
