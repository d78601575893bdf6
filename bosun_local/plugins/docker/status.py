"""Judge a deployment's health from its containers' state, as read in one inspect per tick."""
from __future__ import annotations

from bosun_local.engine.adapter import ContainerInfo
from bosun_local.plugins.docker.stack import CHAMPION, MODEL_LABEL, NETWORK_LABEL, PPS_PORT, ROLE_LABEL
from bosun_local.plugins.framework.action_status import ActionDataFields, ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.constants import DeploymentState

# data key: the model ids of all the deployment's containers (docs/plugins.md).
MODEL_IDS = "modelIds"
# data keys: {healthy, wanted} champion replicas of the serving model, and those the agent should relaunch (names of
# broken containers, and how many are missing) while others serve.
REPLICAS = "replicas"
BROKEN_REPLICAS = "brokenReplicas"
MISSING_REPLICAS = "missingReplicas"
# data key: each healthy replica's Prometheus /metrics URL on the environment network (the agent's autoscaler).
METRICS_URLS = "metricsUrls"


def _describe(c: ContainerInfo) -> dict[str, object]:
    return {"name": c.name, "modelId": c.labels.get(MODEL_LABEL), "status": c.status, "health": c.health,
            "exitCode": c.exit_code, "startedAt": c.started_at, "role": c.labels.get(ROLE_LABEL) or CHAMPION}


def _side_problems(sides: list[ContainerInfo]) -> list[str]:
    """Return what is wrong with challenger and canary containers (they never decide the deployment's state)."""
    return [f"{c.labels.get(ROLE_LABEL)} {_what(c)}" for c in sides if not c.healthy and c.health != "starting"]


def _what(c: ContainerInfo) -> str:
    if c.status == "running":
        return f"{c.name} is {c.health or 'running'}"
    return f"{c.name} is {c.status} (exit code {c.exit_code})"


def _replicas(data: dict[str, object], serving: ContainerInfo, containers: list[ContainerInfo],
              wanted: int | None) -> list[str]:
    """Fill the replica counts of the serving model into data; return what is wrong with its replicas."""
    model = serving.labels.get(MODEL_LABEL)
    own = [c for c in containers if c.labels.get(MODEL_LABEL) == model]
    healthy = [c for c in own if c.healthy]
    broken = [c for c in own if not c.healthy and c.health != "starting"]
    data[REPLICAS] = {"healthy": len(healthy), "wanted": wanted}
    data[METRICS_URLS] = [f"http://{address}:{PPS_PORT}/metrics" for c in healthy
                          if (address := c.addresses.get(c.labels.get(NETWORK_LABEL, "")))]
    missing = max(0, (wanted or 0) - len(own))
    notes = [f"{len(healthy)} of {wanted} replicas healthy"] if wanted and len(healthy) < wanted else []
    if broken:
        data[BROKEN_REPLICAS] = [c.name for c in broken]
    if missing:
        data[MISSING_REPLICAS] = missing
        notes.append(f"{missing} replica container(s) missing")
    return notes


def judge_deployment(deployment_id: str, containers: list[ContainerInfo], prediction_url: str,
                     expected_model: str | None = None, wanted: int | None = None) -> ActionStatusInfo:
    """Return the deployment's status: ready when a champion container is healthy, errored when none can serve."""
    data: dict[str, object] = {ActionDataFields.PREDICTION_URL: prediction_url,
                               "containers": [_describe(c) for c in containers]}
    sides = [c for c in containers if (c.labels.get(ROLE_LABEL) or CHAMPION) != CHAMPION]
    containers = [c for c in containers if c not in sides]
    side_notes = _side_problems(sides)
    # Every champion model with a container: more than one outside a replacement is a split the agent converges
    # to the model the service reports (challengers and canaries are meant to run beside it).
    data[MODEL_IDS] = sorted({str(c.labels.get(MODEL_LABEL)) for c in containers if c.labels.get(MODEL_LABEL)})
    if not containers:
        return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.STOPPED, data=data,
                                msg=f"deployment {deployment_id} has no PPS container")
    healthy = [c for c in containers if c.healthy]
    starting = [c for c in containers if c.status in ("running", "created", "restarting") and c.health == "starting"]
    broken = [c for c in containers if c not in healthy and c not in starting]
    if healthy:
        serving = next((c for c in healthy if c.labels.get(MODEL_LABEL) == expected_model), healthy[-1])
        data[ActionDataFields.CURRENT_MODEL_ID] = serving.labels.get(MODEL_LABEL)
        replica_notes = _replicas(data, serving, containers, wanted)
        if starting:
            return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.REPLACING_MODEL, data=data,
                                    msg=f"deployment {deployment_id}: {serving.name} serves while "
                                        f"{', '.join(c.name for c in starting)} starts")
        serving_models = sorted({str(c.labels.get(MODEL_LABEL)) for c in healthy})
        if len(serving_models) > 1:
            return ActionStatusInfo(ActionStatus.WARN, state=DeploymentState.READY, data=data,
                                    msg=f"deployment {deployment_id}: models {', '.join(serving_models)} all serve "
                                        "(traffic is split between them)")
        if expected_model and serving.labels.get(MODEL_LABEL) != expected_model:
            return ActionStatusInfo(ActionStatus.WARN, state=DeploymentState.READY, data=data,
                                    msg=f"deployment {deployment_id} serves model {serving.labels.get(MODEL_LABEL)}, "
                                        f"expected {expected_model}")
        if broken or side_notes or replica_notes:
            return ActionStatusInfo(ActionStatus.WARN, state=DeploymentState.READY, data=data,
                                    msg=f"deployment {deployment_id}: {serving.name} serves; "
                                        f"{'; '.join([*replica_notes, *(_what(c) for c in broken), *side_notes])}")
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY, data=data,
                                msg=f"deployment {deployment_id}: {serving.name} is healthy")
    if starting:
        return ActionStatusInfo(ActionStatus.UNKNOWN, state=DeploymentState.LAUNCHING, data=data,
                                msg=f"deployment {deployment_id}: {', '.join(c.name for c in starting)} is starting")
    return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR, data=data,
                            msg=f"deployment {deployment_id} cannot serve: {'; '.join(_what(c) for c in broken)}")
