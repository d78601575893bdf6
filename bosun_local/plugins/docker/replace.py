"""Blue/green model replacement of a dedicated deployment: every replica of the new model serves before the old go."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bosun_local.errors import BosunError
from bosun_local.plugins.docker.replicas import replica_count, replicas_of
from bosun_local.plugins.docker.stack import CHAMPION, model_service
from bosun_local.plugins.docker.stopwatch import Stopwatch
from bosun_local.plugins.framework.action_status import ActionDataFields, ActionStatus, ActionStatusInfo
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
    still = stack.drain(olds, timeout=15.0)
    watch.lap("drain")
    lingering = plugin.wait_only(di.id, new.model_id)
    watch.lap("unrouted")
    for note in ([f"{', '.join(still)} did not turn unhealthy when drained"] if still else []) + (
            [lingering] if lingering else []):
        plugin._logger.warning("deployment %s: %s; stopping the old model anyway", di.id, note)
    stack.remove(olds)
    watch.lap("stop")
    stack.render([*news, *sides])
    plugin._logger.info("deployment %s: model replaced in %s", di.id, watch)
    return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY,
                            msg=f"deployment {di.id} now runs model {new.model_id} (replaced "
                                f"{', '.join(m.model_id for m in olds)} with no downtime in {watch.total():g} s)",
                            data=plugin._data(di.id, new.model_id, **{ActionDataFields.OLD_MODEL_IN_USE: False},
                                            phasesSec=watch.laps, replicas=len(news)))
