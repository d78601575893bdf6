"""The FILESYSTEM transport: MLOPS_SPOOLER_TYPE=FILESYSTEM writers, FS_SPOOL readers."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bosun_local.errors import ConfigError
from bosun_local.spool.channel import Channel
from bosun_local.spool.filesystem.config import SETTINGS, FsChannelConfig
from bosun_local.spool.filesystem.reader import FsSource, spool_stats
from bosun_local.spool.filesystem.writer import FilesystemChannel
from bosun_local.spool.source import Source
from bosun_local.spool.transport import ChannelConfig, MissingSpoolSetting, QueueStats, Transport


class FilesystemTransport(Transport):
    """JSON lines in rotated files of one directory; one reader per directory."""

    spooler_type = "FILESYSTEM"
    legacy_names = ("OUTPUT_DIR",)
    channel_type = "FS_SPOOL"
    settings = SETTINGS
    max_message_bytes = 100 << 20

    def writer(self, settings: Mapping[str, Any], batch_size: int) -> Channel | None:
        """Return a channel appending to the spool directory."""
        directory = settings["MLOPS_FILESYSTEM_DIRECTORY"]
        if not directory:
            raise MissingSpoolSetting(
                "the FILESYSTEM spooler has no directory",
                fix="call set_filesystem_spooler(directory) or set MLOPS_FILESYSTEM_DIRECTORY",
            )
        return FilesystemChannel(
            directory,
            settings["MLOPS_FILESYSTEM_MAX_FILE_SIZE"],
            settings["MLOPS_FILESYSTEM_MAX_NUM_FILES"],
            settings["MLOPS_FILESYSTEM_MAX_RECORDS_PER_FILE"],
            batch_size=batch_size,
        )

    def channel_config(self, details: Mapping[str, Any], name: str, where: str) -> ChannelConfig:
        """Return the FS_SPOOL channel of details.spoolDirectoryPath (older seeds) or details.directory."""
        directory = details.get("spoolDirectoryPath") or details.get("directory")
        if not directory:
            raise ConfigError(f"{where} (FS_SPOOL) needs details.spoolDirectoryPath",
                              fix="set it to the directory the reporting library spools into")
        return FsChannelConfig(Path(str(directory)).expanduser(), name)

    def channel_config_from_env(self, env: Mapping[str, str], current: ChannelConfig | None) -> ChannelConfig:
        """Return the channel of MLOPS_FILESYSTEM_DIRECTORY."""
        directory = env.get("MLOPS_FILESYSTEM_DIRECTORY")
        if not directory:
            raise ConfigError("MLOPS_SPOOLER_TYPE=FILESYSTEM but MLOPS_FILESYSTEM_DIRECTORY is not set",
                              fix="set MLOPS_FILESYSTEM_DIRECTORY to the spool directory")
        return FsChannelConfig(Path(directory).expanduser())

    def source(self, config: ChannelConfig, prefetch: int) -> Source:
        """Open the directory's reader (it takes the reader lock)."""
        assert isinstance(config, FsChannelConfig)
        return FsSource(config)

    def stats(self, config: ChannelConfig, timeout_sec: float = 5.0) -> QueueStats:
        """Return the uncommitted records and whether a reader holds the directory."""
        assert isinstance(config, FsChannelConfig)
        return spool_stats(config.directory)


FILESYSTEM = FilesystemTransport()
