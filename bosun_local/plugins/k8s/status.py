"""A deployment's state read from its Kubernetes Deployment: conditions, generations and replica counts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bosun_local.contracts import labels
from bosun_local.plugins.framework.action_status import ActionStatus
from bosun_local.plugins.framework.constants import DeploymentState


@dataclass(frozen=True)
class Rollout:
    """Where a Deployment's rollout stands."""

    status: str
    state: str
    done: bool
    failed: bool
    message: str
    model_id: str | None
    data: dict[str, Any]


def judge(deployment: Any) -> Rollout:
    """Judge a V1Deployment: done when the controller has seen the spec and every replica is updated and available."""
    meta, spec, st = deployment.metadata, deployment.spec, deployment.status
    want = spec.replicas if spec.replicas is not None else 1
    updated, available = st.updated_replicas or 0, st.available_replicas or 0
    total, unavailable = st.replicas or 0, st.unavailable_replicas or 0
    conditions = {c.type: c for c in st.conditions or []}
    progressing, ready = conditions.get("Progressing"), conditions.get("Available")
    model_id = (meta.annotations or {}).get(labels.MODEL)
    data = {"modelId": model_id, "replicas": want, "updatedReplicas": updated, "availableReplicas": available,
            "unavailableReplicas": unavailable,
            "conditions": {k: {"status": c.status, "reason": c.reason, "message": c.message}
                           for k, c in sorted(conditions.items())}}
    seen = (st.observed_generation or 0) >= (meta.generation or 0)
    counts = f"{updated}/{want} updated, {available} available"
    if progressing is not None and progressing.status == "False" and progressing.reason == "ProgressDeadlineExceeded":
        state = DeploymentState.READY if available else DeploymentState.ERROR
        return Rollout(ActionStatus.ERROR, state, False, True,
                       f"rollout of {meta.name} stalled ({counts}): {progressing.message}", model_id, data)
    done = seen and updated == want and available == want and total == want
    if done:
        return Rollout(ActionStatus.OK, DeploymentState.READY, True, False,
                       f"{meta.name}: {available}/{want} replicas available", model_id, data)
    if ready is not None and ready.status == "True":
        return Rollout(ActionStatus.WARN, DeploymentState.READY, False, False,
                       f"{meta.name} serves while it rolls out ({counts})", model_id, data)
    return Rollout(ActionStatus.WARN, DeploymentState.LAUNCHING, False, False, f"{meta.name} is starting ({counts})",
                   model_id, data)
