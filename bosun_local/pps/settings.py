"""Server settings read from the environment (the container's interface) or given by the CLI."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bosun_local.configkit.env import env_bool, env_flag, env_float, env_int

DEFAULT_MODEL_DIR = "/opt/model"
DEFAULT_PORT = 8080
DEFAULT_MAX_BODY_BYTES = 50 * 1024 * 1024

# What each setting is called in the environment; the CLI writes the same names for uvicorn's worker processes.
ENV_NAMES = {
    "model_dir": "PPS_MODEL_DIR",
    "multi_base_dir": "PPS_MULTI_BASE_DIR",
    "dir_prefix": "PPS_DEPLOYMENT_DIR_PREFIX",
    "info_file": "PPS_DEPLOYMENT_INFO_FILE",
    "watch_interval_sec": "PPS_WATCH_INTERVAL_SEC",
    "status_file": "PPS_STATUS_FILE",
    "host": "PPS_HOST",
    "port": "PORT",
    "workers": "PREDICTION_API_WORKERS",
    "deployment_id": "MLOPS_DEPLOYMENT_ID",
    "model_id": "MLOPS_MODEL_ID",
    "max_body_bytes": "PPS_MAX_BODY_BYTES",
    "report_queue_size": "PPS_REPORT_QUEUE_SIZE",
    "graceful_timeout_sec": "PPS_GRACEFUL_TIMEOUT_SEC",
    "access_log": "PPS_ACCESS_LOG",
    "metrics": "PPS_METRICS",
}



@dataclass(frozen=True)
class Settings:
    """Everything the server needs to start; multi-model mode when multi_base_dir is set."""

    model_dir: Path = Path(DEFAULT_MODEL_DIR)
    multi_base_dir: Path | None = None
    dir_prefix: str = "deployment_"
    info_file: str = "config.yml"
    watch_interval_sec: float = 1.0
    # Multi mode: where to write the load status after each scan (a swarm pool's tasks cannot be polled directly).
    status_file: Path | None = None
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    workers: int = 1
    deployment_id: str | None = None
    model_id: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    report_queue_size: int = 10000
    graceful_timeout_sec: float = 30.0
    access_log: bool = False
    monitoring: bool = False
    metrics: bool = True  # /metrics and the per-request counters behind it

    @property
    def multi(self) -> bool:
        return self.multi_base_dir is not None

    def with_values(self, **values: Any) -> Settings:
        """Return a copy with the given non-None values set."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    def to_env(self) -> dict[str, str]:
        """Return the settings as environment variables (read back by from_env in worker processes)."""
        env: dict[str, str] = {}
        for attr, name in ENV_NAMES.items():
            value = getattr(self, attr)
            if value is None:
                continue
            env[name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        env["MONITORING_ENABLED"] = "1" if self.monitoring else "0"
        return env


def monitoring_enabled(env: Mapping[str, str]) -> bool:
    """Return whether to report predictions: MONITORING_ENABLED wins, else whether a spooler is configured."""
    flag = env_flag(env, "MONITORING_ENABLED")
    if flag is not None:
        return flag
    return bool(env.get("MLOPS_SPOOLER_TYPE", "").strip())


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from environment variables, with the container's defaults."""
    env = os.environ if env is None else env
    base = Settings()
    multi = env.get(ENV_NAMES["multi_base_dir"], "").strip()
    status_file = env.get(ENV_NAMES["status_file"], "").strip()
    return Settings(
        model_dir=Path(env.get(ENV_NAMES["model_dir"], "").strip() or DEFAULT_MODEL_DIR),
        multi_base_dir=Path(multi) if multi else None,
        dir_prefix=env.get(ENV_NAMES["dir_prefix"], base.dir_prefix),
        info_file=env.get(ENV_NAMES["info_file"], "").strip() or base.info_file,
        watch_interval_sec=env_float(env, ENV_NAMES["watch_interval_sec"], base.watch_interval_sec, above=0),
        status_file=Path(status_file) if status_file else None,
        host=env.get(ENV_NAMES["host"], "").strip() or base.host,
        port=env_int(env, ENV_NAMES["port"], DEFAULT_PORT, minimum=0),
        workers=env_int(env, ENV_NAMES["workers"], 1, minimum=1),
        deployment_id=env.get(ENV_NAMES["deployment_id"], "").strip() or None,
        model_id=env.get(ENV_NAMES["model_id"], "").strip() or None,
        max_body_bytes=env_int(env, ENV_NAMES["max_body_bytes"], DEFAULT_MAX_BODY_BYTES, minimum=1),
        report_queue_size=env_int(env, ENV_NAMES["report_queue_size"], base.report_queue_size, minimum=1),
        graceful_timeout_sec=env_float(env, ENV_NAMES["graceful_timeout_sec"], base.graceful_timeout_sec, above=0),
        access_log=env_bool(env, ENV_NAMES["access_log"], False),
        metrics=env_bool(env, ENV_NAMES["metrics"], True),
        monitoring=monitoring_enabled(env),
    )
