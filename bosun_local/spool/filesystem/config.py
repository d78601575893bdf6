"""FILESYSTEM settings: the reporting library's MLOPS_FILESYSTEM_* variables and the agents' FS_SPOOL channel."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from bosun_local.configkit.env import Setting

SETTINGS = (
    Setting("MLOPS_FILESYSTEM_DIRECTORY", str, None, "spool directory of the FILESYSTEM spooler",
            legacy_names=("MLOPS_SPOOLER_DIR_PATH",), aliases=("DIRECTORY",)),
    Setting("MLOPS_FILESYSTEM_MAX_FILE_SIZE", int, 1 << 30, "bytes after which a spool file is rotated",
            legacy_names=("MLOPS_SPOOLER_FILE_MAX_SIZE",), aliases=("MAX_FILE_SIZE",)),
    Setting("MLOPS_FILESYSTEM_MAX_NUM_FILES", int, 10, "unconsumed spool files before the spool counts as full",
            legacy_names=("MLOPS_SPOOLER_MAX_FILES",), aliases=("MAX_NUM_FILES",)),
    Setting("MLOPS_FILESYSTEM_MAX_RECORDS_PER_FILE", int, 0, "records per spool file (0: no limit)"),
)


@dataclass(frozen=True)
class FsChannelConfig:
    """An FS_SPOOL channel: one spool directory."""

    spooler_type: ClassVar[str] = "FILESYSTEM"
    directory: Path
    name: str = "filesystem"

    def describe(self) -> str:
        """Return the channel for logs."""
        return f"filesystem spool {self.directory}"
