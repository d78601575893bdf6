"""What one spool transport provides: its writer, its reader, its config and its queue statistics."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from bosun_local.configkit.env import Setting
from bosun_local.errors import ConfigError
from bosun_local.spool.channel import Channel
from bosun_local.spool.source import Source


class ChannelConfig(Protocol):
    """Where a monitoring agent reads one transport (a queue, a directory): a frozen dataclass per transport."""

    spooler_type: ClassVar[str]

    @property
    def name(self) -> str:
        """Return the channel's name in logs and rejects."""
        ...

    def describe(self) -> str:
        """Return the channel for logs, without credentials."""
        ...


class MissingSpoolSetting(ConfigError):
    """A transport's writer lacks a setting it needs (a directory, a queue URL)."""


@dataclass(frozen=True)
class QueueStats:
    """Records waiting in a spool and the readers attached to it (what the scaler and health checks read)."""

    depth: int
    consumers: int


class Transport(ABC):
    """One spool transport; register an instance in bosun_local.spool.registry.

    ``spooler_type`` is its MLOPS_SPOOLER_TYPE name (the reporting library's side) and ``channel_type``
    its monitoring-agent ``channelConfigs`` type (None when no agent reads it, like STDOUT).
    """

    spooler_type: ClassVar[str]
    legacy_names: ClassVar[tuple[str, ...]] = ()
    channel_type: ClassVar[str | None] = None
    # The MLOPS_* settings its writer reads (besides the library's own).
    settings: ClassVar[tuple[Setting, ...]] = ()
    # Largest message the transport carries (datarobot-mlops cuts records to fit); None: no limit.
    max_message_bytes: ClassVar[int | None] = None

    @abstractmethod
    def writer(self, settings: Mapping[str, Any], batch_size: int) -> Channel | None:
        """Return the channel the reporting library writes through (None: records are dropped).

        Raise MissingSpoolSetting when a setting the writer needs is not set.
        """

    def _unreadable(self, where: str) -> ConfigError:
        return ConfigError(f"{where}: the monitoring agent cannot read the {self.spooler_type} spooler",
                           fix="spool through a transport agents read (see docs/spool.md)")

    def channel_config(self, details: Mapping[str, Any], name: str, where: str) -> ChannelConfig:
        """Return the channel of a ``channelConfigs`` entry's details (agent YAML)."""
        raise self._unreadable(where)

    def channel_config_from_env(self, env: Mapping[str, str], current: ChannelConfig | None) -> ChannelConfig:
        """Return the channel MLOPS_* variables describe; current is the one configured before, if any."""
        raise self._unreadable(f"MLOPS_SPOOLER_TYPE={self.spooler_type}")

    def source(self, config: ChannelConfig, prefetch: int) -> Source:
        """Open the monitoring agent's reader of a channel."""
        raise self._unreadable(config.describe())

    def stats(self, config: ChannelConfig, timeout_sec: float = 5.0) -> QueueStats:
        """Return the backlog and readers of a channel (raise BosunError when it cannot be reached)."""
        raise self._unreadable(config.describe())
