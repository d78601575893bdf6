"""The local PostgreSQL for tests: started by the project's own script, a fresh database per user of it."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import need

BACKENDS = ("sqlite", "postgres")


@cache
def server_url() -> str | None:
    """Return the URL of the local cluster, installing and starting it when needed (None when impossible)."""
    from bosun_local.errors import BosunError
    from bosun_local.service.postgres_server import ensure_postgres

    try:
        return ensure_postgres()
    except BosunError as exc:
        print(f"PostgreSQL unavailable: {exc}")
        return None


def require_server() -> str:
    """Return the cluster's URL; fail under CI=true (skip elsewhere) when it cannot be started."""
    url = server_url()
    need(url is not None, "PostgreSQL could not be started (run `make postgres` as root, or install Debian's "
                          "postgresql)")
    assert url is not None
    return url


@contextmanager
def fresh_database(prefix: str = "t") -> Iterator[str]:
    """Create an empty database on the local cluster, yield its URL, drop it afterwards."""
    import psycopg

    url = require_server()
    name = f"bosun_{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        drop_database(url, name)


def drop_database(url: str, name: str, attempts: int = 40) -> None:
    """Drop a database, waiting out an autovacuum worker on it (our role may not terminate one: FORCE fails)."""
    import time

    import psycopg

    for attempt in range(attempts):
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            if attempt == attempts - 1:
                raise
            time.sleep(0.25)


@contextmanager
def backend_env(backend: str) -> Iterator[dict[str, str]]:
    """Yield the environment a service needs to store its state in a backend ('sqlite' or 'postgres')."""
    if backend == "sqlite":
        yield {}
        return
    with fresh_database() as url:
        yield {"BOSUN_DATABASE_URL": url}


@pytest.fixture(scope="module", params=BACKENDS)
def storage_backend(request: pytest.FixtureRequest) -> str:
    """Run the module's service tests once per storage backend."""
    return str(request.param)


def queue_starts_directly(tmp_path: Path, db: str, env: str, package_id: str, count: int,
                          prefix: str = "direct") -> set[str]:
    """Insert deployments with a pending deployment_start each, in one transaction; return the action ids."""
    from bosun_local.service.storage import open_storage
    from bosun_local.service.timeutil import new_id, now_iso

    storage = open_storage(tmp_path, db)
    now = now_iso()
    ids = set()
    try:
        with storage.transaction():
            for i in range(count):
                dep = {"id": new_id(), "name": f"{prefix}-{i}", "environmentId": env, "packageId": package_id,
                       "modelId": package_id, "description": "", "keyValueConfig": {}, "state": "launching",
                       "desiredState": "running", "predictionUrl": None, "healthStatus": "unknown",
                       "external": False, "createdAt": now, "updatedAt": now, "deletedAt": None}
                storage.insert_deployment(dep)
                action, _ = storage.enqueue_action({
                    "id": new_id(), "deploymentId": dep["id"], "type": "deployment_start", "status": "pending",
                    "attempts": 0, "leaseExpiresAt": None, "createdAt": now, "updatedAt": now, "params": {},
                    "agentId": None, "result": None})
                ids.add(str(action["id"]))
    finally:
        storage.close()
    return ids
