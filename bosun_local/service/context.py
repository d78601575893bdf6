"""What every route needs: configuration, storage, limits and the background workers."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bosun_local.config import Config
from bosun_local.service.accuracy_status import AccuracyTracker
from bosun_local.service.storage import Storage


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


@dataclass
class Limits:
    """Service tunables that are not user config keys (environment variables, for operators and tests)."""

    max_package_bytes: int = int(_env_float("BOSUN_SERVICE_MAX_PACKAGE_MB", 512) * 1024 * 1024)
    max_unpacked_bytes: int = int(_env_float("BOSUN_SERVICE_MAX_UNPACKED_MB", 2048) * 1024 * 1024)
    max_archive_members: int = int(_env_float("BOSUN_SERVICE_MAX_ARCHIVE_MEMBERS", 20000))
    max_training_bytes: int = int(_env_float("BOSUN_SERVICE_MAX_TRAINING_MB", 512) * 1024 * 1024)
    purge_interval_sec: float = _env_float("BOSUN_SERVICE_PURGE_INTERVAL_SEC", 3600)
    webhook_max_attempts: int = int(_env_float("BOSUN_SERVICE_WEBHOOK_MAX_ATTEMPTS", 5))
    webhook_backoff_sec: float = _env_float("BOSUN_SERVICE_WEBHOOK_BACKOFF_SEC", 2.0)
    webhook_timeout_sec: float = _env_float("BOSUN_SERVICE_WEBHOOK_TIMEOUT_SEC", 5.0)
    max_action_attempts: int = int(_env_float("BOSUN_SERVICE_MAX_ACTION_ATTEMPTS", 5))
    agent_offline_sec: float = _env_float("BOSUN_SERVICE_AGENT_OFFLINE_SEC", 60)
    accuracy_interval_sec: float = _env_float("BOSUN_SERVICE_ACCURACY_INTERVAL_SEC", 2.0)


@dataclass
class ServiceContext:
    """The running service's shared state."""

    config: Config
    storage: Storage
    token: str
    limits: Limits = field(default_factory=Limits)
    wake_notifier: threading.Event = field(default_factory=threading.Event)
    accuracy: AccuracyTracker = field(default_factory=AccuracyTracker)

    @property
    def packages_dir(self) -> Path:
        return self.config.packages_dir
