"""Monitoring agent configuration: the seed's mlops.agent.conf.yaml shape, MLOPS_* env vars, stack defaults."""
from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml

from bosun_local.errors import ConfigError

RABBITMQ_SPOOL = "RABBITMQ_SPOOL"
FS_SPOOL = "FS_SPOOL"

# Keys of the seed's mlops.agent.conf.yaml that mean nothing here; accepted so a seed file loads unchanged.
IGNORED_SEED_KEYS = frozenset({
    "runOnce", "dryRun", "verifySSL", "statsPath", "predictionEnvironmentId", "httpRetry", "httpTimeout",
    "httpConcurrentRequest", "numMLOpsConnections", "agentMaxRecordsTask", "agentMaxAggregatedRecords",
    "agentSleepSecondsBetweenRuns", "httpConfig", "stats",
})
# Our tuning keys (camelCase, like the seed's) -> (AgentConfig field, type).
TUNING_KEYS: dict[str, tuple[str, type]] = {
    "agentId": ("agent_id", str),
    "batchMaxRecords": ("batch_max_records", int),
    "batchMaxWaitMs": ("batch_max_wait_ms", int),
    "prefetch": ("prefetch", int),
    "heartbeatIntervalSec": ("heartbeat_interval_sec", float),
    "statusPollIntervalSec": ("status_poll_interval_sec", float),
    "baselineTtlSec": ("baseline_ttl_sec", float),
    "retryMaxSec": ("retry_max_sec", float),
}
KNOWN_KEYS = {"mlopsUrl", "apiToken", "channelConfigs", *TUNING_KEYS}


@dataclass(frozen=True)
class RabbitChannelConfig:
    """A RABBITMQ_SPOOL channel: one durable queue."""

    queue_url: str
    queue_name: str
    name: str = "rabbit"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue_name}.dead"

    def describe(self) -> str:
        """Return the channel for logs, without credentials."""
        host = self.queue_url.split("@")[-1]
        return f"RabbitMQ queue {self.queue_name!r} at {host}"


@dataclass(frozen=True)
class FsChannelConfig:
    """An FS_SPOOL channel: one spool directory."""

    directory: Path
    name: str = "filesystem"

    def describe(self) -> str:
        """Return the channel for logs."""
        return f"filesystem spool {self.directory}"


ChannelConfig = RabbitChannelConfig | FsChannelConfig


def default_agent_id() -> str:
    """Return an agent id unique per process on this host."""
    return f"monitoring-{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class AgentConfig:
    """Everything a monitoring agent needs to run."""

    service_url: str
    token: str
    channels: tuple[ChannelConfig, ...]
    agent_id: str = field(default_factory=default_agent_id)
    batch_max_records: int = 500
    batch_max_wait_ms: int = 200
    prefetch: int = 1000
    heartbeat_interval_sec: float = 10.0
    status_poll_interval_sec: float = 10.0
    baseline_ttl_sec: float = 60.0
    retry_max_sec: float = 10.0

    def validate(self, where: str) -> AgentConfig:
        """Return self, or raise ConfigError naming the bad value."""
        if not self.service_url:
            raise ConfigError(f"{where}: no MLOps service URL", fix="set mlopsUrl or MLOPS_SERVICE_URL")
        if not self.token:
            raise ConfigError(f"{where}: no API token",
                              fix="set apiToken or MLOPS_API_TOKEN (the text of <data dir>/token)")
        if not self.channels:
            raise ConfigError(f"{where}: no channel to read",
                              fix="add a channelConfigs entry (RABBITMQ_SPOOL or FS_SPOOL) or set MLOPS_SPOOLER_TYPE")
        for name in ("batch_max_records", "batch_max_wait_ms", "prefetch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{where}: {name} must be >= 1, got {getattr(self, name)}",
                                  fix="use a positive value")
        return self


def _channel(entry: Any, index: int, where: str) -> ChannelConfig:
    """Parse one channelConfigs entry."""
    here = f"{where}: channelConfigs[{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("details", {}), dict):
        raise ConfigError(f"{here} must be a mapping with 'type' and 'details'",
                          fix='write `- type: RABBITMQ_SPOOL` and `details: {queueUrl: ..., queueName: mlops}`')
    kind = str(entry.get("type", "")).upper()
    details = entry.get("details") or {}
    name = str(details.get("name") or kind.lower())
    if kind == RABBITMQ_SPOOL:
        url, queue = details.get("queueUrl"), details.get("queueName")
        if not url or not queue:
            raise ConfigError(f"{here} (RABBITMQ_SPOOL) needs details.queueUrl and details.queueName",
                              fix="e.g. queueUrl: amqp://user:pass@127.0.0.1:5672/%2F, queueName: mlops")
        return RabbitChannelConfig(str(url), str(queue), name)
    if kind == FS_SPOOL:
        # Older seed files say spoolDirectoryPath, newer ones directory.
        directory = details.get("spoolDirectoryPath") or details.get("directory")
        if not directory:
            raise ConfigError(f"{here} (FS_SPOOL) needs details.spoolDirectoryPath",
                              fix="set it to the directory the reporting library spools into")
        return FsChannelConfig(Path(str(directory)).expanduser(), name)
    raise ConfigError(f"{here}: channel type {entry.get('type')!r} is not supported",
                      fix=f"use {RABBITMQ_SPOOL} or {FS_SPOOL}")


def parse_agent_yaml(values: Mapping[str, Any], where: str, base: AgentConfig) -> AgentConfig:
    """Return base overridden by the keys of a mlops.agent.conf.yaml mapping."""
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key in IGNORED_SEED_KEYS:
            continue
        if key not in KNOWN_KEYS:
            close = get_close_matches(str(key), sorted(KNOWN_KEYS), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(KNOWN_KEYS))}"
            raise ConfigError(f"{where}: unknown key {key!r}", fix=hint)
        if key == "mlopsUrl":
            changes["service_url"] = str(value).rstrip("/")
        elif key == "apiToken":
            changes["token"] = str(value)
        elif key == "channelConfigs":
            if not isinstance(value, list):
                raise ConfigError(f"{where}: channelConfigs must be a list",
                                  fix="write one `- type: ...` entry per channel")
            changes["channels"] = tuple(_channel(e, i, where) for i, e in enumerate(value))
        else:
            attr, kind = TUNING_KEYS[key]
            try:
                changes[attr] = kind(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: {key} must be a {kind.__name__}, got {value!r}",
                                  fix=f"set {key} to a {kind.__name__}") from exc
    return replace(base, **changes)


def load_agent_file(path: Path, base: AgentConfig) -> AgentConfig:
    """Return base overridden by a YAML agent config file."""
    try:
        values = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read monitoring agent config {path}: {exc.strerror}",
                          fix="give the path of a mlops.agent.conf.yaml") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {getattr(exc, 'problem', exc)}",
                          fix="correct the YAML syntax") from exc
    if values is None:
        return base
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values", fix="write `key: value` lines")
    return parse_agent_yaml(values, str(path), base)


def apply_env(base: AgentConfig, env: Mapping[str, str]) -> AgentConfig:
    """Return base overridden by the MLOPS_* variables the DataRobot monitoring agent image reads."""
    changes: dict[str, Any] = {}
    if env.get("MLOPS_SERVICE_URL"):
        changes["service_url"] = env["MLOPS_SERVICE_URL"].rstrip("/")
    if env.get("MLOPS_API_TOKEN"):
        changes["token"] = env["MLOPS_API_TOKEN"]
    if env.get("MLOPS_AGENT_ID"):
        changes["agent_id"] = env["MLOPS_AGENT_ID"]
    kind = env.get("MLOPS_SPOOLER_TYPE", "").upper()
    if kind in ("RABBITMQ", RABBITMQ_SPOOL):
        current = next((c for c in base.channels if isinstance(c, RabbitChannelConfig)), None)
        url = env.get("MLOPS_RABBITMQ_QUEUE_URL") or (current.queue_url if current else "")
        queue = env.get("MLOPS_RABBITMQ_QUEUE_NAME") or (current.queue_name if current else "mlops")
        if not url:
            raise ConfigError("MLOPS_SPOOLER_TYPE=RABBITMQ but MLOPS_RABBITMQ_QUEUE_URL is not set",
                              fix="set MLOPS_RABBITMQ_QUEUE_URL=amqp://user:pass@host:5672/%2F")
        changes["channels"] = (RabbitChannelConfig(url, queue),)
    elif kind in ("FILESYSTEM", FS_SPOOL):
        directory = env.get("MLOPS_FILESYSTEM_DIRECTORY")
        if not directory:
            raise ConfigError("MLOPS_SPOOLER_TYPE=FILESYSTEM but MLOPS_FILESYSTEM_DIRECTORY is not set",
                              fix="set MLOPS_FILESYSTEM_DIRECTORY to the spool directory")
        changes["channels"] = (FsChannelConfig(Path(directory).expanduser()),)
    elif kind:
        raise ConfigError(f"MLOPS_SPOOLER_TYPE={kind} cannot be read by the monitoring agent",
                          fix="use RABBITMQ or FILESYSTEM")
    return replace(base, **changes)


def stack_defaults() -> AgentConfig:
    """Return the defaults of the local environment: its service, token and RabbitMQ queue."""
    from bosun_local.config import SECRETS_FILE_NAME, load_config
    from bosun_local.envstack.environment import EnvironmentStack

    config = load_config()
    try:
        token = config.token_file.read_text().strip()
    except OSError:
        token = ""
    channels: tuple[ChannelConfig, ...] = ()
    # Without rabbitmqUrl or the stack's secrets there is no broker password to use; never generate one here.
    if config["rabbitmqUrl"] or (config.data_dir / SECRETS_FILE_NAME).exists():
        url = EnvironmentStack(config).rabbitmq_url(host_side=True)
        channels = (RabbitChannelConfig(url, str(config["rabbitmqQueueName"])),)
    return AgentConfig(service_url=str(config["serviceUrl"]).rstrip("/"), token=token, channels=channels)


def load_agent_config(path: Path | None = None, env: Mapping[str, str] | None = None,
                      base: AgentConfig | None = None) -> AgentConfig:
    """Resolve: stack defaults < config file (--config or MLOPS_AGENT_CONFIG_YAML) < MLOPS_* variables."""
    env = os.environ if env is None else env
    config = base or stack_defaults()
    where = "monitoring agent configuration"
    file = path or (Path(env["MLOPS_AGENT_CONFIG_YAML"]) if env.get("MLOPS_AGENT_CONFIG_YAML") else None)
    if file is not None:
        config = load_agent_file(file, config)
        where = str(file)
    return apply_env(config, env).validate(where)
