"""deployment_traffic_update of the docker plugin: challengers and a canary beside the champion, routed by traefik."""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bosun_local.contracts.challengers import MIRROR, feed_of, replay_path
from bosun_local.envstack.render import write_if_changed
from bosun_local.errors import BosunError
from bosun_local.plugins.docker.routes import Routes, RoutesFile, champion_service, side_service, wait_applied
from bosun_local.plugins.docker.shared import SHARED
from bosun_local.plugins.docker.stack import CANARY, CHALLENGER, CHAMPION, DeploymentStack, ModelService, model_service
from bosun_local.plugins.docker.waits import wait_model_at
from bosun_local.plugins.framework.action_status import ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.constants import BosunPluginConfigConstants as K
from bosun_local.plugins.framework.constants import DeploymentState
from bosun_local.plugins.framework.deployment_info import DeploymentInfo

if TYPE_CHECKING:
    from bosun_local.plugins.docker.plugin import DockerPlugin


def routes_file(plugin: DockerPlugin, stack: DeploymentStack) -> RoutesFile:
    """Return the file-provider routes file of a deployment's stack."""
    return RoutesFile(Path(plugin._fact(K.ROUTES_DIR_KEY)), stack.name)


def wanted_sides(di: DeploymentInfo, traffic: dict[str, Any]) -> tuple[list[ModelService], ModelService | None, int]:
    """Return the challengers, the canary and its percent that `traffic` asks for (validated)."""
    kv = di.kv_config
    challengers = [model_service(di.id, str(c["modelId"]), c.get("modelArtifact"), kv).as_role(CHALLENGER)
                   for c in traffic.get("challengers") or []]
    raw = traffic.get("canary")
    if not raw:
        return challengers, None, 0
    percent = int(raw.get("percent", 0))
    if not 0 <= percent <= 99:
        raise BosunError(f"deployment {di.id}: canary percent {percent} is not from 0 to 99",
                         fix="give --percent a whole number from 1 to 99; promote to send it everything")
    return challengers, model_service(di.id, str(raw["modelId"]), raw.get("modelArtifact"), kv).as_role(CANARY), percent


def mirrored(traffic: dict[str, Any]) -> set[str]:
    """Return the model ids of the challengers fed by traefik's mirror (the others get a replay)."""
    return {str(c["modelId"]) for c in traffic.get("challengers") or [] if feed_of(c) == MIRROR}


def routes_for(plugin: DockerPlugin, stack: DeploymentStack, challengers: list[ModelService],
               canary: ModelService | None, percent: int, champion: str) -> Routes:
    """Return the file-provider routes of a deployment whose champion is traefik's service `champion`."""
    router = stack.router
    return Routes(stack.deployment_id, router, champion,
                  mirrors=[side_service(router, m.slug) for m in challengers],
                  canary=side_service(router, canary.slug) if canary else None, canary_percent=percent,
                  retry_attempts=int(plugin.s["retryAttempts"]))


def update_traffic(plugin: DockerPlugin, di: DeploymentInfo, traffic: dict[str, Any]) -> ActionStatusInfo:
    """Start new challengers/canary, route to them (waiting until traefik applied it), then remove the old ones."""
    stack = plugin.stack(di.id)
    challengers, canary, percent = wanted_sides(di, traffic)
    wanted = [*challengers, *([canary] if canary else [])]
    summary = (f"{len(challengers)} challenger(s)" + (f", canary {canary.model_id} at {percent} %" if canary else ""))
    if plugin.dry_run:
        return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would run {summary} beside the champion of "
                                                     f"{stack.name}")
    running = stack.running(di.kv_config)
    champions = [m for m in running if m.role == CHAMPION]
    # A shared deployment's champion is the pool (its dir there); challengers and a canary run in its own stack.
    pooled = not champions and plugin.mode(di) == SHARED and plugin.shared().pool.has(di.id)
    if not champions and not pooled:
        return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR,
                                msg=f"deployment {di.id} has no running champion, so nothing to feed or split; "
                                    "start it first (`bosun-local deployments start`)")
    # One model serving: its own service (right after a replacement the label service may still list the old one).
    slugs = {m.slug for m in champions}
    champion = (f"{plugin.shared().pool.router}@docker" if pooled else
                champion_service(stack.router, slugs.pop()) if len(slugs) == 1 else f"{stack.router}@docker")
    current = [m for m in running if m.role != CHAMPION]
    key = {(m.model_id, m.role) for m in wanted}
    have = {(m.model_id, m.role) for m in current}
    starting = [m for m in wanted if (m.model_id, m.role) not in have]
    leaving = [m for m in current if (m.model_id, m.role) not in key]
    plugin._check_environment()
    stack.render([*champions, *current, *starting])
    for model in starting:
        try:
            stack.up(model, timeout=int(plugin.s["startTimeoutSec"]))
        except BosunError as exc:
            detail = plugin._failure_detail(stack, model, exc)
            stack.remove(starting)
            stack.render([*champions, *current])
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.READY,
                                    msg=f"deployment {di.id}: the {model.role} {model.model_id} did not start; "
                                        f"the champion keeps serving as before: {detail}")
    routes = routes_file(plugin, stack)
    before = routes.path.read_text() if routes.path.exists() else None
    copied = mirrored(traffic)
    version = routes.apply(routes_for(plugin, stack, [m for m in challengers if m.model_id in copied], canary,
                                      percent, champion))
    timeout = float(plugin.s["routeTimeoutSec"])
    problem = wait_applied(plugin.traefik_url, di.id, version, timeout) or wait_replay_routes(
        plugin.traefik_url, di.id, [m.model_id for m in starting if m.role == CHALLENGER], timeout)
    if problem:
        if before is None:
            routes.remove()
        else:
            write_if_changed(routes.path, before)
        stack.remove(starting)
        stack.render([*champions, *current])
        return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.READY,
                                msg=f"deployment {di.id}: routing to {summary} failed, the previous routes are "
                                    f"back: {problem}")
    # No route names them any more: stopping them cannot fail a client's request.
    stack.remove(leaving)
    stack.render([*champions, *wanted])
    serving = champions[-1].model_id if champions else f"{di.current_model_id} (shared pool)"
    return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY,
                            msg=f"deployment {di.id} runs {summary} beside its champion {serving}"
                                + (f" (removed {', '.join(f'{m.role} {m.model_id}' for m in leaving)})"
                                   if leaving else ""),
                            data={"routesFile": str(routes.path) if version else None, "routesVersion": version,
                                  "challengers": [m.model_id for m in challengers],
                                  "mirrored": sorted(copied & {m.model_id for m in challengers}),
                                  "canary": {"modelId": canary.model_id, "percent": percent} if canary else None})


def wait_replay_routes(traefik_url: str, deployment_id: str, models: list[str], timeout: float) -> str | None:
    """Wait until traefik routes each new challenger's own path to it; return why not, or None."""
    deadline = time.monotonic() + timeout
    for model_id in models:
        problem = wait_model_at(f"{traefik_url}{replay_path(deployment_id, model_id)}info", model_id,
                                max(0.0, deadline - time.monotonic()))
        if problem:
            return problem
    return None


def unpin(plugin: DockerPlugin, stack: DeploymentStack, keep: ModelService | None = None) -> None:
    """Give a deployment pinned to one model (after a replacement) back to its label router, unless it is `keep`.

    A move to the shared pool drains the dedicated containers, and a start after an interrupted replacement
    drains the other model's: a route pinned to them would keep pointing at them.
    """
    if not plugin.s[K.ROUTES_DIR_KEY]:
        return
    routes = routes_file(plugin, stack)
    current = routes.read(stack.deployment_id, stack.router)
    if current is not None and current.pinned and (
            keep is None or current.champion != champion_service(stack.router, keep.slug)):
        routes.remove()
        problem = wait_applied(plugin.traefik_url, stack.deployment_id, None, float(plugin.s["routeTimeoutSec"]))
        if problem:
            plugin._logger.warning("deployment %s: %s", stack.deployment_id, problem)
