"""Exceptions DataRobot's `bosun.plugin.exceptions` offers plugins for failed launches and stops."""
from __future__ import annotations


class DeploymentException(Exception):
    """A deployment action (launch, stop) failed; `exception` is the cause, `msg` says what failed."""

    def __init__(self, exception: BaseException | None, msg: str) -> None:
        super().__init__(msg)
        self.exception = exception
        self.msg = msg


class DeploymentLaunchException(DeploymentException):
    """A deployment could not be launched."""


class DeploymentStopException(DeploymentException):
    """A deployment could not be stopped."""
