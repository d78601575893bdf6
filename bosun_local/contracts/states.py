"""Deployment states, action statuses and health words, shared by the service, the agent, plugins and the UIs."""
from __future__ import annotations

from typing import Final, Literal

DeploymentStateName = Literal["ready", "stopped", "errored", "launching", "replacingModel", "shuttingDown", "unknown"]
HealthStatusName = Literal["passing", "warning", "failing", "unknown"]
EventStatusName = Literal["passing", "warning", "failing", "unknown", "info"]
DesiredStateName = Literal["running", "stopped", "deleted"]
QueueStatusName = Literal["pending", "claimed", "done", "failed"]


class DeploymentState:
    """States a deployment is in (the `state` of an ActionStatusInfo and of the service's deployments)."""

    READY: Final = "ready"
    STOPPED: Final = "stopped"
    ERROR: Final = "errored"
    LAUNCHING: Final = "launching"
    REPLACING_MODEL: Final = "replacingModel"
    SHUTTING_DOWN: Final = "shuttingDown"
    UNKNOWN: Final = "unknown"

    ALL: Final = (READY, STOPPED, ERROR, LAUNCHING, REPLACING_MODEL, SHUTTING_DOWN, UNKNOWN)
    # States the service holds between actions (the others last only while an action runs).
    SETTLED: Final = (READY, ERROR, UNKNOWN)


class ActionStatus:
    """Outcome of a plugin action; the same words are the service's health statuses."""

    OK: Final = "passing"
    WARN: Final = "warning"
    ERROR: Final = "failing"
    UNKNOWN: Final = "unknown"

    ALL: Final = (OK, WARN, ERROR, UNKNOWN)
    # The runner's exit code for each status under --exit-codes.
    to_numeric: Final = {OK: 0, ERROR: 1, WARN: 2, UNKNOWN: 3}

    @classmethod
    def is_valid(cls, status_string: object) -> bool:
        """Return True if the value is one of the four status strings."""
        return status_string in cls.to_numeric


# Health of a deployment or a component: exactly the action statuses.
HEALTH_STATUSES: Final = ActionStatus.ALL
# Events also carry plain information.
INFO: Final = "info"
EVENT_STATUSES: Final = (*HEALTH_STATUSES, INFO)
# Spellings an action result may use for its status (the seed's short forms too).
STATUS_ALIASES: Final = {"ok": ActionStatus.OK, "warn": ActionStatus.WARN, "error": ActionStatus.ERROR,
                         **{status: status for status in HEALTH_STATUSES}}


class DesiredState:
    """What the user asked a deployment to be."""

    RUNNING: Final = "running"
    STOPPED: Final = "stopped"
    DELETED: Final = "deleted"

    ALL: Final = (RUNNING, STOPPED, DELETED)


class QueueStatus:
    """Where a queued action is: waiting, held by an agent under a lease, or finished."""

    PENDING: Final = "pending"
    CLAIMED: Final = "claimed"
    DONE: Final = "done"
    FAILED: Final = "failed"

    ALL: Final = (PENDING, CLAIMED, DONE, FAILED)
    OPEN: Final = (PENDING, CLAIMED)
