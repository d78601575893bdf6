"""Reporting library: the instrumented app's side of monitoring, a drop-in for datarobot-mlops' MLOps."""
from __future__ import annotations

from bosun_local.contracts.records import Record, RecordError
from bosun_local.mlops.event import Event, EventType
from bosun_local.mlops.exceptions import (
    DRAlreadyInitialized,
    DRApiException,
    DRCommonException,
    DRConfigKeyNotFound,
    DRInvalidValue,
    DRSpoolerException,
    DRUnsupportedType,
)
from bosun_local.mlops.frames import MLOpsInputError
from bosun_local.mlops.mlops import MLOps, MLOpsNotInitializedError

__all__ = ["MLOps", "MLOpsInputError", "MLOpsNotInitializedError", "Record", "RecordError", "Event", "EventType",
           "DRAlreadyInitialized", "DRApiException", "DRCommonException", "DRConfigKeyNotFound", "DRInvalidValue",
           "DRSpoolerException", "DRUnsupportedType"]
