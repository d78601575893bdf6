"""What every route needs: configuration, storage, limits and the background workers."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bosun_local.config import Config
from bosun_local.configkit.env import env_float, env_int
from bosun_local.service.accuracy_status import AccuracyTracker
from bosun_local.service.long_poll import Changes
from bosun_local.service.metrics import ServiceMetrics
from bosun_local.service.storage import Storage


def _megabytes(name: str, default: float) -> Callable[[], int]:
    """Return a reader of a size variable given in MB, as bytes."""
    return lambda: int(env_float(os.environ, name, default, above=0) * 1024 * 1024)


def _count(name: str, default: int) -> Callable[[], int]:
    """Return a reader of a count variable (at least 1)."""
    return lambda: env_int(os.environ, name, default, minimum=1)


def _seconds(name: str, default: float) -> Callable[[], float]:
    """Return a reader of a duration variable in seconds (above 0)."""
    return lambda: env_float(os.environ, name, default, above=0)


@dataclass
class Limits:
    """Service tunables that are not user config keys (environment variables, for operators and tests).

    Read when the service starts; a bad value stops it with an error naming the variable.
    """

    max_package_bytes: int = field(default_factory=_megabytes("BOSUN_SERVICE_MAX_PACKAGE_MB", 512))
    max_unpacked_bytes: int = field(default_factory=_megabytes("BOSUN_SERVICE_MAX_UNPACKED_MB", 2048))
    max_archive_members: int = field(default_factory=_count("BOSUN_SERVICE_MAX_ARCHIVE_MEMBERS", 20000))
    max_training_bytes: int = field(default_factory=_megabytes("BOSUN_SERVICE_MAX_TRAINING_MB", 512))
    purge_interval_sec: float = field(default_factory=_seconds("BOSUN_SERVICE_PURGE_INTERVAL_SEC", 3600))
    webhook_max_attempts: int = field(default_factory=_count("BOSUN_SERVICE_WEBHOOK_MAX_ATTEMPTS", 5))
    webhook_backoff_sec: float = field(default_factory=_seconds("BOSUN_SERVICE_WEBHOOK_BACKOFF_SEC", 2.0))
    webhook_timeout_sec: float = field(default_factory=_seconds("BOSUN_SERVICE_WEBHOOK_TIMEOUT_SEC", 5.0))
    max_action_attempts: int = field(default_factory=_count("BOSUN_SERVICE_MAX_ACTION_ATTEMPTS", 5))
    agent_offline_sec: float = field(default_factory=_seconds("BOSUN_SERVICE_AGENT_OFFLINE_SEC", 60))
    accuracy_interval_sec: float = field(default_factory=_seconds("BOSUN_SERVICE_ACCURACY_INTERVAL_SEC", 2.0))
    canary_interval_sec: float = field(default_factory=_seconds("BOSUN_SERVICE_CANARY_INTERVAL_SEC", 2.0))


@dataclass
class ServiceContext:
    """The running service's shared state."""

    config: Config
    storage: Storage
    token: str
    limits: Limits = field(default_factory=Limits)
    wake_notifier: threading.Event = field(default_factory=threading.Event)
    # Bumped after each recorded event (every queued, finished or released action records one): wakes long polls.
    changes: Changes = field(default_factory=Changes)
    accuracy: AccuracyTracker = field(default_factory=AccuracyTracker)
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)

    @property
    def packages_dir(self) -> Path:
        return self.config.packages_dir
