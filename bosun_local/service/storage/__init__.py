"""Storage behind a narrow interface: the service talks to `Storage`, SQLite implements it."""
from __future__ import annotations

from pathlib import Path

from bosun_local.contracts.layout import DataDir
from bosun_local.service.storage.base import Storage, StorageConflict


def open_storage(data_dir: Path) -> Storage:
    """Open (creating and migrating) the service database of a data dir."""
    from bosun_local.service.storage.sqlite import SQLiteStorage

    return SQLiteStorage(DataDir(data_dir).database)


__all__ = ["Storage", "StorageConflict", "open_storage"]
