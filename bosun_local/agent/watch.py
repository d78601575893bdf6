"""Keep actual state at desired state: reconcile at start, then pe_status every few seconds, heal what broke."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from bosun_local.agent.autoscaler import Autoscaler
from bosun_local.agent.environment_watch import EnvironmentWatch
from bosun_local.agent.lanes import Lanes
from bosun_local.agent.plugin_config import pe_deployment
from bosun_local.agent.plugin_host import PluginHost
from bosun_local.agent.reporting import HEALTH, Reporter
from bosun_local.agent.settings import AgentSettings
from bosun_local.client import ServiceClient
from bosun_local.contracts.states import DeploymentState
from bosun_local.errors import BosunError
from bosun_local.plugins import ActionStatus, ActionStatusInfo

log = logging.getLogger(__name__)
Json = dict[str, Any]
# Deployment states the service holds between actions: only then does an observation override them.
SETTLED = DeploymentState.SETTLED
BROKEN = (DeploymentState.ERROR, DeploymentState.STOPPED)


class Snapshot:
    """What the service wants, read once per tick: environments, deployments, deployments with open actions."""

    def __init__(self, client: ServiceClient) -> None:
        read = client.agent_snapshot()
        self.environments: list[Json] = read["environments"]
        self.deployments: list[Json] = read["deployments"]
        self.open_actions: set[str] = set(read["openActionDeploymentIds"])

    def of(self, env: Json) -> list[Json]:
        return [d for d in self.deployments if d["environmentId"] == env["id"]]

    def config(self, env: Json) -> Json:
        """Return the environment-level action config: pluginConfig and peInfo with its deployments.

        Deployments go as mappings, as DataRobot's agent sends them to pe_status (its plugins read them).
        """
        pe_info = {"id": env["id"], "name": env["name"], "description": env.get("description") or "",
                   "keyValueConfig": {}, "deployments": [pe_deployment(d) for d in self.of(env)]}
        return {"pluginConfig": env.get("pluginConfig") or {}, "peInfo": pe_info}


class Watcher:
    """Reconcile, observe, report changes and heal; each deployment's work goes through its lane."""

    def __init__(self, client_factory: Callable[[], ServiceClient], host: PluginHost, lanes: Lanes,
                 settings: AgentSettings, reporter: Reporter) -> None:
        self.client = client_factory()
        self._repair_client = client_factory()  # lane threads use this one, one at a time
        self._repair_lock = threading.Lock()
        self.host = host
        self.lanes = lanes
        self.settings = settings
        self.reporter = reporter
        self._env_seen: dict[str, tuple[str, str]] = {}
        self._dep_seen: dict[str, tuple[str, str | None]] = {}
        self._orphans: dict[str, tuple[str, ...]] = {}
        self._env_checked: dict[str, float] = {}
        self._heal_after: dict[str, float] = {}
        self._heal_failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self.heals = 0
        self.engine_problems: dict[str, str | None] = {}
        self.tick_done_at = time.monotonic()
        # Set by the agent: told of every observed deployment, it scales those with autoscale keys.
        self.autoscaler: Autoscaler | None = None
        # Set by the agent: handed each pe_status of the default environment (components, monitoring backlog).
        self.environment: EnvironmentWatch | None = None
        # Nothing should run and no action is open: the environment's own health is all there is to watch.
        self.idle = False
        # Set when an action is claimed: the next check comes at once, at the busy pace.
        self.wake = threading.Event()

    # -- start -----------------------------------------------------------------------------------

    def reconcile(self) -> None:
        """Run plugin_start and deployment_list per environment; start or stop what differs from desired state."""
        snap = Snapshot(self.client)
        for env in snap.environments:
            config = snap.config(env)
            started = self.host.run(env, "plugin_start", config)
            self.reporter.event("plugin_started", HEALTH[started.status],
                                f"environment {env['name']}: plugin_start: {started.msg or started.status}",
                                environment_id=env["id"], data={"statusInfo": started.to_dict()})
            listed = self.host.run(env, "deployment_list", config)
            if listed.status == ActionStatus.ERROR:
                self.reporter.event("reconcile_failed", "failing", f"environment {env['name']}: deployment_list "
                                    f"failed, nothing reconciled: {listed.msg}", environment_id=env["id"])
                continue
            present = {k: v for k, v in (listed.data or {}).items() if isinstance(v, dict)}
            self._report_orphans(env, sorted(set(present) - {d["id"] for d in snap.of(env)}))
            for dep in snap.of(env):
                if dep.get("external") or dep["id"] in snap.open_actions:
                    continue  # an open action is re-claimed and re-run: it brings the deployment where it belongs
                here = present.get(dep["id"])
                if dep["desiredState"] == "running" and (here is None or here.get("state") == DeploymentState.STOPPED):
                    self._schedule(env, dep, "deployment_start", "reconcile",
                                   f"deployment {dep['name']} should run but the plugin lists no instance of it")
                elif dep["desiredState"] in ("stopped", "deleted") and here is not None \
                        and here.get("state") != DeploymentState.STOPPED:
                    self._schedule(env, dep, "deployment_stop", "reconcile",
                                   f"deployment {dep['name']} is {dep['desiredState']} but still has an instance")

    # -- every tick ------------------------------------------------------------------------------

    def tick(self) -> None:
        """Check every environment once; report changes; heal broken deployments whose lane is idle."""
        snap = Snapshot(self.client)
        self.idle = not snap.open_actions and not self.lanes.active() and not any(
            d["desiredState"] == "running" for d in snap.deployments if not d.get("external"))
        for env in snap.environments:
            if env.get("command"):
                last = self._env_checked.get(env["id"], float("-inf"))
                if time.monotonic() - last < self.settings.command_status_interval_sec:
                    continue
            self._env_checked[env["id"]] = time.monotonic()
            config = snap.config(env)
            if self.environment is not None and env.get("isDefault"):
                config["pluginConfig"] = self.environment.plugin_config(env)
            status = self.host.run(env, "pe_status", config)
            if self.environment is not None and env.get("isDefault"):
                self.environment.offer(env, status)
            engine = (status.data or {}).get("engine")
            self.engine_problems[env["name"]] = str(engine) if engine and engine != "ok" else None
            self._report_environment(env, status)
            per_dep = (status.data or {}).get("deploymentsStatus") or {}
            self._report_orphans(env, list((status.data or {}).get("orphans") or []))
            # What the plugin did on its own while checking (the docker plugin relaunching a pool replica).
            self.reporter.plugin_events(env["id"], status.data)
            for dep in snap.of(env):
                if dep.get("external"):
                    continue
                observed = per_dep.get(dep["id"])
                if not isinstance(observed, dict) and dep["desiredState"] == "running":
                    observed = self._deployment_status(env, dep, dep["id"] in snap.open_actions)
                if isinstance(observed, dict):
                    self._observe(env, dep, observed, dep["id"] in snap.open_actions)
                    if self.autoscaler is not None:
                        self.autoscaler.observe(env, dep, observed,
                                                dep["id"] in snap.open_actions or self.lanes.busy(dep["id"]))
        self.tick_done_at = time.monotonic()

    def interval(self) -> float:
        """Return the seconds until the next check: longer while idle."""
        if self.idle:
            return max(self.settings.idle_status_interval_sec, self.settings.status_interval_sec)
        return self.settings.status_interval_sec

    def problems(self, stall_sec: float) -> list[str]:
        """Return why this agent cannot keep deployments healthy: a stalled check, an unreachable engine."""
        found = [f"environment {name}: {problem}" for name, problem in self.engine_problems.items() if problem]
        age = time.monotonic() - self.tick_done_at
        if age > stall_sec:
            found.append(f"the check of environments (pe_status) has not finished for {age:.0f} s: stalled")
        return found

    def _deployment_status(self, env: Json, dep: Json, has_open_action: bool) -> Json | None:
        """Ask the plugin about one deployment when its pe_status did not say (plugins need not)."""
        if has_open_action or self.lanes.busy(dep["id"]):
            return None
        try:
            config = self.client_config(dep["id"], "deployment_status")
        except BosunError as exc:
            log.warning("cannot check deployment %s: %s", dep["id"], exc.message)
            return None
        return self.host.run(env, "deployment_status", config).to_dict()

    def _report_environment(self, env: Json, status: ActionStatusInfo) -> None:
        seen = (status.status, status.msg or "")
        if self._env_seen.get(env["id"], ("", ""))[0] == seen[0]:
            return
        self._env_seen[env["id"]] = seen
        self.reporter.event("environment_status_changed", HEALTH[status.status],
                            f"environment {env['name']}: {status.msg or status.status}", environment_id=env["id"],
                            data={"status": status.status, "traefik": (status.data or {}).get("traefik"),
                                  "rabbitmq": (status.data or {}).get("rabbitmq")})

    def _report_orphans(self, env: Json, orphans: list[str]) -> None:
        key = tuple(sorted(orphans))
        if self._orphans.get(env["id"], ()) == key:
            return
        self._orphans[env["id"]] = key
        if key:
            self.reporter.event("orphans_found", "warning",
                                f"environment {env['name']}: {', '.join(key)} carry bosun-local labels but belong to "
                                "no deployment the service knows; left untouched (remove them yourself if unwanted)",
                                environment_id=env["id"], data={"orphans": list(key)})

    def _observe(self, env: Json, dep: Json, observed: Json, has_open_action: bool) -> None:
        if has_open_action or self.lanes.busy(dep["id"]):
            return  # an action or a heal owns the deployment right now
        health = HEALTH.get(str(observed.get("status")), "unknown")
        state = observed.get("state")
        if dep["desiredState"] != "running":
            if dep["desiredState"] in ("stopped", "deleted") and state not in (DeploymentState.STOPPED, None):
                self._schedule(env, dep, "deployment_stop", "reconcile",
                               f"deployment {dep['name']} is {dep['desiredState']} but still has an instance")
            return
        extra = [m for m in (observed.get("data") or {}).get("modelIds") or [] if m != dep.get("packageId")]
        if extra and dep.get("packageId"):
            # A replacement that never finished (its attempts ran out) can leave two models sharing the traffic:
            # keep the one the service reports, and say nothing is fine until only it serves.
            self._schedule(env, dep, "deployment_start", "converge",
                           f"deployment {dep['name']} runs model {', '.join(extra)} beside {dep['packageId']}, the "
                           f"model the service reports ({observed.get('msg') or 'split traffic'})")
            return
        seen = (health, state)
        if self._dep_seen.get(dep["id"]) != seen:
            new_state = None
            if dep["state"] in SETTLED and state in (DeploymentState.READY, DeploymentState.ERROR):
                new_state = state
            elif dep["state"] == DeploymentState.READY and state == DeploymentState.STOPPED:
                new_state = DeploymentState.ERROR
            if self.reporter.deployment_status(dep["id"], state=new_state, health=health,
                                               message=observed.get("msg")):
                self._dep_seen[dep["id"]] = seen  # unreported changes are tried again next tick
        data = observed.get("data") or {}
        # Replicas down while others serve (the docker plugin's brokenReplicas/missingReplicas): a relaunch
        # recreates only those.
        replicas_down = state == DeploymentState.READY and (data.get("brokenReplicas") or data.get("missingReplicas"))
        if self.settings.heal and (state in BROKEN or replicas_down) and dep["state"] in SETTLED:
            self._schedule(env, dep, "deployment_relaunch", "heal",
                           f"deployment {dep['name']}: {observed.get('msg') or state}")

    # -- jobs ------------------------------------------------------------------------------------

    def _schedule(self, env: Json, dep: Json, action: str, why: str, reason: str) -> None:
        """Queue a repair in the deployment's lane unless one runs or the last one failed too recently."""
        if self.lanes.busy(dep["id"]) or time.monotonic() < self._heal_after.get(dep["id"], 0.0):
            return
        with self._lock:
            # Until the job ends, a later tick must not queue the same repair again.
            self._heal_after[dep["id"]] = float("inf")
        self.lanes.submit(dep["id"], f"{why}:{action}", lambda: self._repair(env, dep, action, why, reason))

    def _repair(self, env: Json, dep: Json, action: str, why: str, reason: str) -> None:
        if not self._still_wanted(dep, action):
            with self._lock:
                self._heal_after[dep["id"]] = 0.0
            return
        verb = "removing the others" if why == "converge" else {
            "deployment_start": "starting it", "deployment_stop": "stopping it",
            "deployment_relaunch": "relaunching it"}[action]
        self.reporter.event(f"deployment_{why}_started", "warning", f"{reason}; {verb}",
                            deployment_id=dep["id"], environment_id=env["id"], data={"action": action})
        try:
            config = self.client_config(dep["id"], action)
            status = self.host.run(env, action, config)
        except BosunError as exc:
            status = ActionStatusInfo(ActionStatus.ERROR, msg=f"cannot get the action config: {exc.message}")
        ok = status.status in (ActionStatus.OK, ActionStatus.WARN)
        failures = 0 if ok else self._heal_failures.get(dep["id"], 0) + 1
        self._heal_failures[dep["id"]] = failures
        backoff = 0.0 if ok else min(self.settings.heal_backoff_sec * 2 ** (failures - 1),
                                     self.settings.heal_backoff_max_sec)
        with self._lock:
            self._heal_after[dep["id"]] = time.monotonic() + backoff
        self.heals += 1
        done = "converged to the model the service reports" if why == "converge" else {
            "deployment_start": "started", "deployment_stop": "stopped", "deployment_relaunch": "relaunched"}[action]
        if ok:
            self.reporter.event(f"deployment_{why}_succeeded", "passing",
                                f"deployment {dep['name']} {done}: {status.msg or ''}".rstrip(": "),
                                deployment_id=dep["id"], environment_id=env["id"],
                                data={"action": action, "statusInfo": status.to_dict()})
        else:
            self.reporter.event(f"deployment_{why}_failed", "failing",
                                f"{action} of deployment {dep['name']} failed (next try in {backoff:.0f} s): "
                                f"{status.msg}", deployment_id=dep["id"], environment_id=env["id"],
                                data={"action": action, "statusInfo": status.to_dict(), "retryInSec": backoff})
        state = status.state or (DeploymentState.READY if ok else DeploymentState.ERROR)
        self._dep_seen.pop(dep["id"], None)  # the next tick reports health afresh
        self.reporter.deployment_status(dep["id"], state=state, health=HEALTH[status.status], message=status.msg)

    def _still_wanted(self, dep: Json, action: str) -> bool:
        """Return False when the user changed the desired state since the tick that queued this repair."""
        try:
            with self._repair_lock:
                now = self._repair_client.get_deployment(dep["id"])
        except BosunError as exc:
            log.warning("cannot re-read deployment %s before repairing it: %s", dep["id"], exc.message)
            return True
        wanted = "running" if action != "deployment_stop" else now.get("desiredState")
        if now.get("desiredState") != wanted or now.get("desiredState") != dep.get("desiredState"):
            log.info("not %s deployment %s: its desired state is now %s", action, dep["id"], now.get("desiredState"))
            return False
        return True

    def client_config(self, deployment_id: str, action: str) -> Json:
        """Return the action config the service builds for a repair on one deployment."""
        with self._repair_lock:
            return self._repair_client.action_config(deployment_id, action)
