"""Reporting library: the instrumented app's side of monitoring, wire-compatible with datarobot-mlops."""
from __future__ import annotations

from bosun_local.contracts.records import Record, RecordError
from bosun_local.mlops.frames import MLOpsInputError
from bosun_local.mlops.mlops import MLOps, MLOpsNotInitializedError

__all__ = ["MLOps", "MLOpsInputError", "MLOpsNotInitializedError", "Record", "RecordError"]
