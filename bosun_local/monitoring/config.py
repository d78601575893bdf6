"""Monitoring agent configuration: the seed's mlops.agent.conf.yaml shape, MLOPS_* env vars, stack defaults."""
from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from bosun_local.configkit.yaml_file import read_yaml
from bosun_local.errors import ConfigError
from bosun_local.spool import registry
from bosun_local.spool.rabbitmq.config import RabbitChannelConfig
from bosun_local.spool.transport import ChannelConfig

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
    "stuckAfterSec": ("stuck_after_sec", float),
    "challengerReplayUrl": ("replay_url", str),
}
KNOWN_KEYS = {"mlopsUrl", "apiToken", "channelConfigs", *TUNING_KEYS}


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
    # A channel that has not moved for this long while records wait turns the agent's health red, with an event.
    stuck_after_sec: float = 60.0
    # traefik, where replay-fed challengers get the champion's stored rows ("": no replay, and lost rows say why).
    replay_url: str = ""

    def validate(self, where: str) -> AgentConfig:
        """Return self, or raise ConfigError naming the bad value."""
        if not self.service_url:
            raise ConfigError(f"{where}: no MLOps service URL", fix="set mlopsUrl or MLOPS_SERVICE_URL")
        if not self.token:
            raise ConfigError(f"{where}: no API token",
                              fix="set apiToken or MLOPS_API_TOKEN (the text of <data dir>/token)")
        if not self.channels:
            raise ConfigError(f"{where}: no channel to read",
                              fix=f"add a channelConfigs entry ({' or '.join(registry.channel_types())}) "
                                  "or set MLOPS_SPOOLER_TYPE")
        for name in ("batch_max_records", "batch_max_wait_ms", "prefetch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{where}: {name} must be >= 1, got {getattr(self, name)}",
                                  fix="use a positive value")
        for name in ("heartbeat_interval_sec", "status_poll_interval_sec", "baseline_ttl_sec", "retry_max_sec",
                     "stuck_after_sec"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{where}: {name} must be a number of seconds > 0, got {getattr(self, name)}",
                                  fix="use a positive number of seconds")
        return self


def _channel(entry: Any, index: int, where: str) -> ChannelConfig:
    """Parse one channelConfigs entry."""
    here = f"{where}: channelConfigs[{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("details", {}), dict):
        raise ConfigError(f"{here} must be a mapping with 'type' and 'details'",
                          fix='write `- type: RABBITMQ_SPOOL` and `details: {queueUrl: ..., queueName: mlops}`')
    kind = str(entry.get("type", ""))
    details = entry.get("details") or {}
    transport = registry.by_channel_type(kind, here)
    return transport.channel_config(details, str(details.get("name") or kind.lower()), here)


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
    file = read_yaml(path, "monitoring agent config", missing_fix="give the path of a mlops.agent.conf.yaml")
    values = file.mapping()
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
    kind = env.get("MLOPS_SPOOLER_TYPE", "").strip()
    if kind:
        transport = registry.by_spooler_type(kind, "MLOPS_SPOOLER_TYPE")
        if transport.channel_type is None:
            readable = " or ".join(t.spooler_type for t in registry.TRANSPORTS if t.channel_type)
            raise ConfigError(f"MLOPS_SPOOLER_TYPE={kind.upper()} cannot be read by the monitoring agent",
                              fix=f"use {readable}")
        current = next((c for c in base.channels if c.spooler_type == transport.spooler_type), None)
        changes["channels"] = (transport.channel_config_from_env(env, current),)
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
    return AgentConfig(service_url=str(config["serviceUrl"]).rstrip("/"), token=token, channels=channels,
                       replay_url=str(config["traefikUrl"] or config["outfacingPredictionURLPrefix"]).rstrip("/"))


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
