"""The spool transports by name: MLOPS_SPOOLER_TYPE for writers, ``channelConfigs`` types for readers.

Adding a transport is one module (a Transport subclass and its instance) plus one line in TRANSPORTS.
"""
from __future__ import annotations

from bosun_local.configkit.env import Setting
from bosun_local.errors import ConfigError
from bosun_local.spool import simple
from bosun_local.spool.filesystem.transport import FILESYSTEM
from bosun_local.spool.rabbitmq.transport import RABBITMQ
from bosun_local.spool.source import Source
from bosun_local.spool.sqs.transport import SQS
from bosun_local.spool.transport import ChannelConfig, QueueStats, Transport

# One line per transport; the order is the order errors list them in.
TRANSPORTS: tuple[Transport, ...] = (
    RABBITMQ,
    FILESYSTEM,
    SQS,
    simple.STDOUT,
    simple.NONE,
    simple.MEMORY,
)


def spooler_types() -> tuple[str, ...]:
    """Return every MLOPS_SPOOLER_TYPE name."""
    return tuple(t.spooler_type for t in TRANSPORTS)


def channel_types() -> tuple[str, ...]:
    """Return every ``channelConfigs`` type a monitoring agent reads."""
    return tuple(t.channel_type for t in TRANSPORTS if t.channel_type)


def by_spooler_type(value: str, where: str) -> Transport:
    """Return the transport of a MLOPS_SPOOLER_TYPE name (legacy names and channel types accepted)."""
    upper = value.strip().upper()
    for transport in TRANSPORTS:
        if upper == transport.spooler_type or upper in transport.legacy_names or upper == transport.channel_type:
            return transport
    raise ConfigError(f"{where}: unknown spooler type {value!r}", fix=f"use one of {', '.join(spooler_types())}")


def by_channel_type(value: str, where: str) -> Transport:
    """Return the transport a ``channelConfigs`` type names."""
    upper = value.strip().upper()
    for transport in TRANSPORTS:
        if transport.channel_type and upper == transport.channel_type:
            return transport
    raise ConfigError(f"{where}: channel type {value!r} is not supported", fix=f"use {' or '.join(channel_types())}")


def of(config: ChannelConfig) -> Transport:
    """Return the transport of a channel config."""
    return by_spooler_type(config.spooler_type, config.describe())


def settings() -> tuple[Setting, ...]:
    """Return the settings every transport's writer reads."""
    return tuple(s for t in TRANSPORTS for s in t.settings)


def open_source(config: ChannelConfig, prefetch: int) -> Source:
    """Open the monitoring agent's reader of a channel."""
    return of(config).source(config, prefetch)


def stats(config: ChannelConfig, timeout_sec: float = 5.0) -> QueueStats:
    """Return a channel's backlog and readers (for the scaler, health checks and `monitor depth`)."""
    return of(config).stats(config, timeout_sec)
