"""Replicas of a dedicated deployment's champion: how many, and scaling them without dropping a request.

Each replica is its own Compose service (`pps-<model>`, `pps-<model>-r2`, ...) so container names stay unique and
every replica is drained, stopped or recreated on its own; all carry the deployment's traefik router labels, so
traefik balances over the healthy ones.
"""
from __future__ import annotations

from typing import Any, Protocol

from bosun_local.contracts.autoscale import (
    MIN_KEY,
    REPLICAS_KEY,
    AutoscaleConfigError,
    autoscale_settings,
    configured_replicas,
)
from bosun_local.engine import adapter
from bosun_local.errors import BosunError
from bosun_local.plugins.docker.stack import (
    CHAMPION,
    MODEL_LABEL,
    ROLE_LABEL,
    DeploymentConfigError,
    DeploymentStack,
    ModelService,
    model_service,
    pps_host,
    replica_of,
    running_model,
)
from bosun_local.plugins.docker.stopwatch import Stopwatch
from bosun_local.plugins.framework.action_status import ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.constants import DeploymentState
from bosun_local.plugins.framework.deployment_info import DeploymentInfo

MOST_REPLICAS = 64


def replica_count(kv: dict[str, Any], default: object, deployment_id: str) -> int:
    """Return keyValueConfig `replicas`, else autoscaleMin, else the plugin's ppsReplicas: a whole number 1 to 64."""
    try:
        autoscale = autoscale_settings(kv, deployment_id)
    except AutoscaleConfigError as exc:
        raise DeploymentConfigError(exc.message, fix=exc.fix) from exc
    raw = configured_replicas(kv, autoscale)
    where = f"keyValueConfig {REPLICAS_KEY if kv.get(REPLICAS_KEY) not in (None, '') else MIN_KEY}"
    if raw is None:
        raw, where = default, "pluginConfig.ppsReplicas"
    try:
        value = int(str(raw)) if not isinstance(raw, bool) else 0
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= MOST_REPLICAS:
        raise DeploymentConfigError(f"deployment {deployment_id}: {where}={raw!r} is not a whole number from 1 to "
                                    f"{MOST_REPLICAS}", fix=f"set {where.split()[-1]} like 2")
    return value


def wanted_replicas(di: DeploymentInfo, settings: dict[str, Any]) -> int | None:
    """Return the replicas a deployment should run, None when its settings say nothing valid (status only)."""
    try:
        return replica_count(di.kv_config, settings.get("ppsReplicas", 1), di.id)
    except DeploymentConfigError:
        return None


def replicas_of(model: ModelService, count: int) -> list[ModelService]:
    """Return the `count` replicas of a champion model."""
    return [model.as_replica(i) for i in range(1, count + 1)]


def settling(container: adapter.ContainerInfo) -> bool:
    """Return True if the container runs and its healthcheck has not decided yet."""
    return container.status == "running" and container.health == "starting"


class ReplicaPlugin(Protocol):
    """What scaling needs of the docker plugin."""

    s: dict[str, Any]

    def stack(self, deployment_id: str) -> DeploymentStack: ...

    def wait_hosts(self, deployment_id: str, include: set[str], exclude: set[str], in_a_row: int = 8) -> str | None: ...

    def _data(self, deployment_id: str, model_id: str, **extra: Any) -> dict[str, Any]: ...

    def _start(self, di: DeploymentInfo, recreate: bool) -> ActionStatusInfo: ...


def retire(plugin: ReplicaPlugin, stack: DeploymentStack, containers: list[adapter.ContainerInfo]) -> str | None:
    """Drain these replicas, wait until traefik answers from others only, then stop them; return a late note."""
    if not containers:
        return None
    models = [m for c in containers if (m := running_model(c, {}))]
    still = stack.drain(models, timeout=15.0)
    late = plugin.wait_hosts(stack.deployment_id, set(), {pps_host(c) for c in containers})
    adapter.remove_containers([c.name for c in containers], timeout=int(plugin.s["gracefulTimeoutSec"]))
    notes = ([f"{', '.join(still)} did not turn unhealthy when drained"] if still else []) + ([late] if late else [])
    return "; ".join(notes) or None


def scale(plugin: ReplicaPlugin, di: DeploymentInfo) -> ActionStatusInfo:
    """Run keyValueConfig `replicas` containers of the champion: new ones healthy and routed, extra ones drained."""
    count = replica_count(di.kv_config, plugin.s["ppsReplicas"], di.id)
    model = model_service(di.id, di.current_model_id, di.model_artifact, di.kv_config)
    stack = plugin.stack(di.id)
    champions = [c for c in stack.containers() if (c.labels.get(ROLE_LABEL) or CHAMPION) == CHAMPION]
    mine = [c for c in champions if c.labels.get(MODEL_LABEL) == model.model_id and c.status == "running"]
    if not any(c.healthy for c in mine) or len(mine) < len([c for c in champions if c.status == "running"]):
        # Nothing of this model serves, or another model does too: a start brings it where it belongs.
        return plugin._start(di, recreate=False)
    sides = [m for m in stack.running(di.kv_config) if m.role != CHAMPION]
    by_replica = {replica_of(c): c for c in mine}
    wanted = replicas_of(model, count)
    extra = [c for c in mine if replica_of(c) > count]
    fresh = [m for m in wanted if m.replica not in by_replica or not (by_replica[m.replica].healthy
                                                                      or settling(by_replica[m.replica]))]
    before = len([c for c in mine if c.healthy])
    watch = Stopwatch()
    stack.render([*wanted, *(m for c in extra if (m := running_model(c, di.kv_config))), *sides])
    problem = None
    if fresh:
        try:
            stack.up(fresh, timeout=int(plugin.s["startTimeoutSec"]),
                     recreate=[m for m in fresh if m.replica in by_replica])
            watch.lap("start")
            names = {stack.container_name(m) for m in fresh}
            problem = plugin.wait_hosts(di.id, {pps_host(c) for c in stack.containers() if c.name in names}, set())
            watch.lap("routed")
        except BosunError as exc:
            problem = exc.one_line()
        if problem:
            started = {stack.container_name(m) for m in fresh if m.replica not in by_replica}
            adapter.remove_containers(sorted(started), timeout=2)
            stack.render([*(m for c in mine if (m := running_model(c, di.kv_config))), *sides])
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.READY,
                                    data=plugin._data(di.id, model.model_id, replicas=before),
                                    msg=f"scaling deployment {di.id} to {count} replicas failed; its {before} "
                                        f"replica(s) keep serving: {problem}")
    late = retire(plugin, stack, extra)
    if extra:
        watch.lap("drain")
    stack.render([*wanted, *sides])
    note = f" ({late})" if late else ""
    return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY,
                            data=plugin._data(di.id, model.model_id, replicas=count, previous=before,
                                              phasesSec=watch.laps),
                            msg=f"deployment {di.id} scaled {before} -> {count} replicas of model {model.model_id} "
                                f"without dropping requests in {watch.total():g} s{note}")
