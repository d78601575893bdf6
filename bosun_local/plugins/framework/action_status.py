"""The result every plugin action returns (ActionStatus, ActionStatusInfo) and how a run is interrupted."""
from __future__ import annotations

import time
from pathlib import PurePath
from typing import Any

import yaml

from bosun_local.contracts.states import ActionStatus, DeploymentState
from bosun_local.plugins.framework.atomic_fs import write_text_atomic

__all__ = ["ActionDataFields", "ActionInterrupted", "ActionStatus", "ActionStatusInfo", "failed", "plain"]
STATUS_KEYS = ("status", "msg", "state", "duration", "timestamp", "data")


class ActionDataFields:
    """Names of well-known entries a plugin may put in the `data` of an ActionStatusInfo."""

    PREDICTION_URL = "predictionUrl"
    DASHBOARD_URL = "dashboardUrl"
    OLD_MODEL_IN_USE = "oldModelInUse"
    DEPLOYMENTS_STATUS = "deploymentsStatus"
    CURRENT_MODEL_ID = "currentModelId"


def plain(value: Any) -> Any:
    """Return the value as plain YAML/JSON data: paths and unknown objects become strings."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, ActionStatusInfo):
        return value.to_dict()
    if isinstance(value, PurePath):
        return str(value)
    return str(value)


class ActionStatusInfo:
    """Status, message, deployment state, duration (s), timestamp (epoch ms) and data of one action."""

    def __init__(self, status: str, msg: str | None = None, state: str | None = None,
                 duration: float | None = None, data: dict[str, Any] | None = None) -> None:
        if not ActionStatus.is_valid(status):
            raise ValueError(
                f"Bad Status: {status!r}; use ActionStatus.OK, WARN, ERROR or UNKNOWN "
                f"({', '.join(ActionStatus.to_numeric)})"
            )
        self.status = status
        self.msg = msg
        self.state = state
        self.duration = duration
        self.timestamp = int(time.time() * 1000)
        self.data = data

    def set_duration(self, duration: float) -> None:
        """Set the duration of the action in seconds."""
        self.duration = duration

    def to_dict(self) -> dict[str, Any]:
        """Return the status as plain data: the documented keys, then any a plugin added to the object."""
        extra = {k: v for k, v in vars(self).items() if k not in STATUS_KEYS}
        data: dict[str, Any] = {key: plain(getattr(self, key, None)) for key in STATUS_KEYS} | plain(extra)
        return data

    def to_yaml(self) -> str:
        """Return the status as the YAML written to status files (DataRobot's form: sorted keys, indent 4)."""
        return yaml.safe_dump(self.to_dict(), indent=4)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ActionStatusInfo:
        """Build a status from a dict read back from a status file or an event."""
        info = cls(values["status"], msg=values.get("msg"), state=values.get("state"),
                   duration=values.get("duration"), data=values.get("data"))
        if values.get("timestamp") is not None:
            info.timestamp = int(values["timestamp"])
        return info

    def write_to_file(self, status_file: str | None = None) -> None:
        """Write the status YAML to a file, atomically, when a path is given."""
        if status_file:
            write_text_atomic(status_file, self.to_yaml())

    def __str__(self) -> str:
        return self.to_yaml()

    def __repr__(self) -> str:
        return f"ActionStatusInfo(status={self.status!r}, msg={self.msg!r}, state={self.state!r})"


class ActionInterrupted(BaseException):
    """Raised in the action's thread when the runner is told to stop (SIGTERM, SIGINT).

    A BaseException, so a plugin's `except Exception` cleanup cannot swallow it.
    """

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"interrupted by {signal_name}")
        self.signal_name = signal_name


def failed(msg: str, duration: float | None = None, state: str = DeploymentState.ERROR) -> ActionStatusInfo:
    """Return the failing status the framework reports when an action could not produce its own."""
    return ActionStatusInfo(ActionStatus.ERROR, msg=msg, state=state, duration=duration)
