"""PostgreSQL backend of the storage interface: the shared SQL over a psycopg connection pool.

Write transactions take one transaction-level advisory lock, so PostgreSQL keeps SQLite's rule of one writer at a
time, across every service replica on the database: the read-modify-write steps of the shared SQL (claims, document
updates, minute merges) stay exact without per-row locking. Reads run concurrently on their own snapshots.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from bosun_local.errors import BosunError
from bosun_local.service.storage.migrations import SCHEMA_VERSION
from bosun_local.service.storage.pg_migrations import PG_MIGRATIONS, PG_SCHEMA_VERSION
from bosun_local.service.storage.sqlite import SQLStore

# Advisory lock keys (any constant bigint): b"bosunW" and b"bosunM" as integers.
WRITE_LOCK = int.from_bytes(b"bosunW", "big")
MIGRATE_LOCK = int.from_bytes(b"bosunM", "big")
POOL_MAX = 16
CONNECT_TIMEOUT_SEC = 15.0

_PLACEHOLDER = re.compile(r"%|\?")


def redact(url: str) -> str:
    """Return a database URL with its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def is_postgres_url(url: str) -> bool:
    """Return True for a postgresql:// (or postgres://) URL."""
    return url.split("://", 1)[0].lower() in ("postgresql", "postgres")


def _translate(sql: str, cache: dict[str, str] = {}) -> str:  # noqa: B006 - a deliberate process-wide cache
    """Return the shared SQL with psycopg's placeholders: `?` becomes %s and a literal % is doubled."""
    out = cache.get(sql)
    if out is None:
        out = cache[sql] = _PLACEHOLDER.sub(lambda m: "%%" if m.group() == "%" else "%s", sql)
    return out


class _Row(tuple[Any, ...]):
    """A result row readable by position and by column name, like sqlite3.Row."""

    names: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """Return the column names."""
        return list(self.names)


class _Result:
    """Rows of a finished statement, fetched eagerly (the connection goes back to the pool at once)."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self.rowcount = cursor.rowcount
        if cursor.description is None:
            self._rows: list[_Row] = []
            return
        row_type = type("Row", (_Row,), {"names": {c.name: i for i, c in enumerate(cursor.description)}})
        self._rows = [row_type(values) for values in cursor.fetchall()]

    def fetchone(self) -> _Row | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[_Row]:
        return self._rows

    def __iter__(self) -> Iterator[_Row]:
        return iter(self._rows)


class _Session:
    """The sqlite3-connection face the shared SQL calls (`execute`, `executemany`) over one psycopg connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Result:
        with self.conn.cursor() as cursor:
            cursor.execute(_translate(sql), tuple(params))
            return _Result(cursor)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> _Result:
        with self.conn.cursor() as cursor:
            cursor.executemany(_translate(sql), [tuple(r) for r in rows])
            return _Result(cursor)


class _PooledSession:
    """Runs each statement outside a transaction on a connection borrowed from the pool for that statement."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Result:
        with self.pool.connection() as conn:
            return _Session(conn).execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> _Result:
        with self.pool.connection() as conn:
            return _Session(conn).executemany(sql, rows)


class PostgresStorage(SQLStore):
    """The service's state in a PostgreSQL database (`databaseUrl: postgresql://...`), shared by replicas."""

    integrity_errors = (psycopg.errors.IntegrityError,)

    def __init__(self, url: str, max_connections: int = POOL_MAX) -> None:
        if PG_SCHEMA_VERSION != SCHEMA_VERSION:
            raise BosunError(f"PostgreSQL migrations reach version {PG_SCHEMA_VERSION} but SQLite's reach "
                             f"{SCHEMA_VERSION}", fix="add the missing step to storage/pg_migrations.py")
        self.url = url
        self._local = threading.local()
        fix = ("check databaseUrl (host, port, user, password, database) and that the server is running: "
               "`bosun-local postgres ensure` starts a local one")
        try:
            # One direct attempt first: the pool retries quietly, while this names the cause at once.
            psycopg.connect(url, connect_timeout=int(CONNECT_TIMEOUT_SEC)).close()
        except psycopg.Error as exc:
            reason = str(exc).strip().replace(urlsplit(url).password or "\0", "***")
            raise BosunError(f"cannot connect to the PostgreSQL database {redact(url)}: {reason}", fix=fix) from None
        self._pool: ConnectionPool[Any] = ConnectionPool(
            url, min_size=1, max_size=max_connections, open=False, name="bosun-service",
            kwargs={"autocommit": True, "connect_timeout": int(CONNECT_TIMEOUT_SEC), "prepare_threshold": None})
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_SEC)
        except PoolTimeout as exc:
            self._pool.close()
            raise BosunError(f"cannot connect to the PostgreSQL database {redact(url)} within "
                             f"{CONNECT_TIMEOUT_SEC:g} s", fix=fix) from exc
        self._pooled = _PooledSession(self._pool)
        self._migrate()

    def _conn(self) -> _Session | _PooledSession:
        session = getattr(self._local, "session", None)
        return session if session is not None else self._pooled

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "session", None) is not None:
            yield  # nested: joins the outer block, as on SQLite
            return
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                self._local.session = _Session(conn)
                try:
                    yield
                finally:
                    self._local.session = None
        except BaseException:
            self._forget_index()  # rolled back: what it indexed may not be stored
            raise

    def _migrate(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            # Replicas starting together: the first migrates, the others wait here and find nothing to do.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            version = int(row[0]) if row else 0
            if version > PG_SCHEMA_VERSION:
                raise BosunError(f"database {redact(self.url)} has schema version {version}, newer than this "
                                 f"bosun-local knows ({PG_SCHEMA_VERSION})",
                                 fix="upgrade bosun-local, or point databaseUrl at another database")
            for number in range(version, PG_SCHEMA_VERSION):
                step = PG_MIGRATIONS[number]
                if step is not None:
                    conn.execute(step.encode())
                conn.execute("UPDATE schema_version SET version = %s", (number + 1,))

    def close(self) -> None:
        self._pool.close()
        self._forget_index()

    def schema_version(self) -> int:
        row = self._exec("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0
