"""The reporting library's errors, with datarobot-mlops' class names so `except DRApiException` keeps working."""
from __future__ import annotations

from bosun_local.errors import BosunError


class DRCommonException(BosunError):
    """Base of every error the reporting library raises."""


class DRConfigKeyNotFound(DRCommonException):
    """A setting was read that is neither in the environment nor set in code."""


class DRConfigKeyAlreadyAssigned(DRCommonException):
    """A setting was set twice where only one assignment is allowed."""


class DRUnsupportedType(DRCommonException):
    """An argument has a type the call does not accept."""


class DRInvalidValue(DRCommonException):
    """An argument or setting has a value the call does not accept."""


class DRVarNotFound(DRCommonException):
    """A channel-config key names no known setting."""


class DRAlreadyInitialized(DRCommonException):
    """init() was called on an MLOps instance that is already initialized."""


class DRApiException(DRCommonException):
    """A report_* or set_* call was used wrongly (not initialized, bad argument, missing id)."""


class DRSpoolerException(DRCommonException):
    """The spooler could not take a record."""


class DRNotFoundException(DRCommonException):
    """Something the call refers to does not exist."""
