"""Blue/green model replacement of a dedicated deployment: every replica of the new model serves before the old go."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bosun_local.engine import adapter
from bosun_local.envstack.render import write_if_changed
from bosun_local.errors import BosunError
from bosun_local.plugins.docker.replicas import replica_count, replicas_of
from bosun_local.plugins.docker.routes import Routes, champion_service, wait_applied
from bosun_local.plugins.docker.stack import CHAMPION, DeploymentStack, ModelService, model_service
from bosun_local.plugins.docker.stopwatch import Stopwatch
from bosun_local.plugins.docker.traffic import routes_file
from bosun_local.plugins.framework.action_status import ActionDataFields, ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.constants import BosunPluginConfigConstants as K
from bosun_local.plugins.framework.constants import DeploymentState
from bosun_local.plugins.framework.deployment_info import DeploymentInfo

if TYPE_CHECKING:
    from bosun_local.plugins.docker.plugin import DockerPlugin


def replace_model(plugin: DockerPlugin, di: DeploymentInfo) -> ActionStatusInfo:
    """Start the new model's replicas beside the old, wait for traefik to route to them, then drain and stop the old."""
    new = model_service(di.id, di.current_model_id, di.model_artifact, di.kv_config)
    news = replicas_of(new, replica_count(di.kv_config, plugin.s["ppsReplicas"], di.id))
    stack = plugin.stack(di.id)
    if plugin.dry_run:
        return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would replace the model of {stack.name} with "
                                                     f"{new.model_id}", data=plugin._data(di.id, new.model_id))
    plugin._check_environment()
    running = stack.running(di.kv_config)
    sides = [m for m in running if m.role != CHAMPION]
    olds = [m for m in running if m.role == CHAMPION and m.model_id != new.model_id]
    if not olds:
        # Nothing serves the deployment (never started, or an interrupted replace already removed the old one).
        status = plugin._start(di, recreate=False)
        status.data = {**(status.data or {}), ActionDataFields.OLD_MODEL_IN_USE: False}
        return status
    if plugin.s[K.ROUTES_DIR_KEY]:
        open_routes(plugin, stack)  # applied while the new containers start
    stack.render([*olds, *news, *sides])
    watch = Stopwatch()
    try:
        stack.up(news, timeout=int(plugin.s["startTimeoutSec"]))
        watch.lap("start")
        problem = plugin.wait_routed(di.id, new.model_id)
        watch.lap("routed")
    except BosunError as exc:
        problem = plugin._failure_detail(stack, new, exc)
    if problem:
        stack.remove(news)
        stack.render([*olds, *sides])
        keep = olds[-1].model_id
        return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.READY,
                                msg=f"model replacement of deployment {di.id} failed; the old model {keep} "
                                    f"keeps serving: {problem}",
                                data=plugin._data(di.id, keep, **{ActionDataFields.OLD_MODEL_IN_USE: True}))
    # Take the old model out of traefik's rotation before stopping it: traefik forgets a stopped container
    # only after its next docker event, and requests sent meanwhile would hang on a vanished address.
    pinned = pin_routes(plugin, stack, di.id, new) if plugin.s[K.ROUTES_DIR_KEY] else "no routes dir"
    if pinned:
        # Without the file provider: turn the old containers unhealthy (3 failed probes) and wait for traefik.
        plugin._logger.info("deployment %s: draining by healthcheck (%s)", di.id, pinned)
        still = stack.drain(olds, timeout=15.0)
        watch.lap("drain")
        lingering = plugin.wait_only(di.id, new.model_id)
        watch.lap("unrouted")
        for note in ([f"{', '.join(still)} did not turn unhealthy when drained"] if still else []) + (
                [lingering] if lingering else []):
            plugin._logger.warning("deployment %s: %s; stopping the old model anyway", di.id, note)
    else:
        watch.lap("pinned")
    # Gracefully (stop_grace_period): requests already sent to them finish; `docker stop` + `rm`, not `compose rm -s`.
    adapter.remove_containers([stack.container_name(m) for m in olds], timeout=int(plugin.s["gracefulTimeoutSec"]))
    watch.lap("stop")
    stack.render([*news, *sides])
    plugin._logger.info("deployment %s: model replaced in %s", di.id, watch)
    return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY,
                            msg=f"deployment {di.id} now runs model {new.model_id} (replaced "
                                f"{', '.join(m.model_id for m in olds)} with no downtime in {watch.total():g} s)",
                            data=plugin._data(di.id, new.model_id, **{ActionDataFields.OLD_MODEL_IN_USE: False},
                                            phasesSec=watch.laps, replicas=len(news)))


def open_routes(plugin: DockerPlugin, stack: DeploymentStack) -> None:
    """Route the deployment's champion traffic through its label service again (all its healthy champions).

    A deployment pinned to its current model (by the last replacement, or routes naming that model's service)
    would never reach the new model's containers, so `wait_routed` could not see them. Not waited for: both
    routes lead to the same healthy containers until the new ones join.
    """
    routes = routes_file(plugin, stack)
    current = routes.read(stack.deployment_id, stack.router)
    if current is not None and current.champion.startswith(f"{stack.router}-c-"):
        routes.apply(replace(current, champion=f"{stack.router}@docker", pinned=False))


def pin_routes(plugin: DockerPlugin, stack: DeploymentStack, deployment_id: str, new: ModelService) -> str | None:
    """Route the deployment to the new model's containers alone (its challengers and canary kept); return why not.

    The file provider's router outranks the label router, so once traefik answers with this file's version no
    request goes to the old containers: they can stop. The file stays (a later traffic update or stop replaces
    or removes it); on failure the previous routes are put back.
    """
    routes = routes_file(plugin, stack)
    before = routes.read(deployment_id, stack.router)
    old_text = routes.path.read_text() if routes.path.exists() else None
    base = before or Routes(deployment_id, stack.router, "", retry_attempts=int(plugin.s["retryAttempts"]))
    version = routes.apply(replace(base, champion=champion_service(stack.router, new.slug),
                                   pinned=base.pinned or before is None))
    timeout = float(plugin.s["routeTimeoutSec"])
    problem = wait_applied(plugin.traefik_url, deployment_id, version, timeout)
    if problem:
        if old_text is None:
            routes.remove()
        else:
            write_if_changed(routes.path, old_text)
        wait_applied(plugin.traefik_url, deployment_id, before.version() if before else None, timeout)
    return problem
