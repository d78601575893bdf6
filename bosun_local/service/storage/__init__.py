"""Storage behind a narrow interface: the service talks to `Storage`; SQLite (default) and PostgreSQL implement it."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bosun_local.contracts.layout import DataDir
from bosun_local.errors import ConfigError
from bosun_local.service.storage.base import Storage, StorageConflict

if TYPE_CHECKING:
    from bosun_local.service.storage.sqlite import SQLStore


def open_storage(data_dir: Path, database_url: str = "", association_index_max_ids: int | None = None) -> Storage:
    """Open (creating and migrating) the service database: databaseUrl's PostgreSQL, else the data dir's SQLite."""
    store = _open(data_dir, database_url)
    if association_index_max_ids is not None:
        store.index_max_ids = association_index_max_ids
    return store


def _open(data_dir: Path, database_url: str) -> SQLStore:
    if not database_url:
        from bosun_local.service.storage.sqlite import SQLiteStorage

        return SQLiteStorage(DataDir(data_dir).database)
    from bosun_local.service.storage.postgres import is_postgres_url, redact

    if not is_postgres_url(database_url):
        raise ConfigError(f"databaseUrl {redact(database_url)!r} is not a PostgreSQL URL",
                          fix="set databaseUrl to postgresql://USER:PASSWORD@HOST:PORT/DATABASE, or to \"\" for "
                              "the data dir's SQLite file")
    from bosun_local.service.storage.postgres import PostgresStorage

    return PostgresStorage(database_url)


__all__ = ["Storage", "StorageConflict", "open_storage"]
