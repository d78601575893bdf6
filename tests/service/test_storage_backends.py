"""Storage backends: migrations of both dialects in step, PostgreSQL's errors, and replicas sharing one PostgreSQL."""
from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from bosun_local.client import ServiceClient
from bosun_local.errors import BosunError
from bosun_local.service.storage import open_storage
from bosun_local.service.storage.migrations import MIGRATIONS
from bosun_local.service.storage.pg_migrations import PG_MIGRATIONS
from bosun_local.service.timeutil import now_iso
from tests.support.postgres import fresh_database, queue_starts_directly, require_server

from .helpers import start, unique, write_package

ACTIONS = 1000
CLAIMERS = 4


def test_both_dialects_have_every_migration_step() -> None:
    assert len(PG_MIGRATIONS) == len(MIGRATIONS), (
        "storage/migrations.py and storage/pg_migrations.py must have the same steps: append the PostgreSQL "
        "form of the new step (or None for a SQLite-only data rewrite)")


def test_postgres_errors_name_the_database_and_the_fix(tmp_path: Path) -> None:
    url = require_server()
    with pytest.raises(BosunError) as err:
        open_storage(tmp_path, "mysql://u:secret@127.0.0.1/x")
    assert "is not a PostgreSQL URL" in err.value.message and "secret" not in err.value.message
    wrong_password = url.replace(url.split(":")[2].split("@")[0], "wrong-secret")
    for bad in (wrong_password, "postgresql://bosun:wrong-secret@127.0.0.1:1/none"):
        with pytest.raises(BosunError) as err:
            open_storage(tmp_path, bad)
        assert "cannot connect to the PostgreSQL database" in err.value.message, err.value.message
        assert "wrong-secret" not in err.value.message and "postgres ensure" in (err.value.fix or "")
    with fresh_database("schema") as db:
        storage = open_storage(tmp_path, db)
        assert storage.schema_version() == len(MIGRATIONS)
        storage._exec("UPDATE schema_version SET version = 99")  # type: ignore[attr-defined]
        storage.close()
        with pytest.raises(BosunError) as err:
            open_storage(tmp_path, db)
        assert "has schema version 99, newer than this bosun-local knows" in err.value.message


def test_two_replicas_claim_every_action_exactly_once(tmp_path: Path, diabetes_frame: pd.DataFrame) -> None:
    """1000 queued actions, two service processes on one database, four claimers (two per replica)."""
    with fresh_database("replicas") as db, start(tmp_path / "a", env={"BOSUN_DATABASE_URL": db}) as one, \
            start(tmp_path / "b", env={"BOSUN_DATABASE_URL": db}) as two:
        # Both replicas started on the empty database at once: one default environment, one schema.
        assert [e["name"] for e in one.client.list_environments()] == ["docker"]
        env = one.client.create_environment(unique("replicas"), "test")["id"]
        pkg = two.client.register_package(write_package(tmp_path / "p", diabetes_frame))
        # A few through the API, the rest queued straight into the shared database (the claims are under test).
        queued = {str(one.client.create_deployment(pkg["id"], f"api-{i}", environment=env)["action"]["id"])
                  for i in range(4)}
        queued |= queue_starts_directly(tmp_path, db, env, pkg["id"], ACTIONS - len(queued))
        clients = [ServiceClient(r.url, r.token) for r in (one, two) for _ in range(CLAIMERS // 2)]
        claims: list[tuple[int, str]] = []
        lock = threading.Lock()

        def claimer(n: int) -> None:
            client = clients[n]
            while (action := client.claim_action(f"agent-{n}", 300, environment=env)) is not None:
                with lock:
                    claims.append((n, action["id"]))

        threads = [threading.Thread(target=claimer, args=(n,)) for n in range(CLAIMERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        counts = Counter(action_id for _, action_id in claims)
        assert set(counts) == queued and max(counts.values()) == 1, counts.most_common(3)
        assert len(Counter(n for n, _ in claims)) == CLAIMERS  # every claimer, on both replicas, got work
        claimed = one.client.list_actions(status=["claimed"], limit=ACTIONS + 10)
        assert {a["id"] for a in claimed} == queued and all(a["attempts"] == 1 for a in claimed)
        for client in clients:
            client.close()


def test_a_claim_probes_indexes_and_never_scans_the_queue(tmp_path: Path) -> None:
    """An agent's claim stays cheap whatever the backlog: no table scan of actions or deployments."""
    storage = open_storage(tmp_path)
    try:
        queue_starts_directly(tmp_path, "", "env-a", "pkg", 50)
        conn = storage._conn()  # type: ignore[attr-defined]
        seen: list[str] = []
        conn.set_trace_callback(seen.append)
        assert storage.claim_action("agent", now_iso(), "2999-01-01T00:00:00Z", "env-a") is not None
        conn.set_trace_callback(None)
        select = next(s for s in seen if s.lstrip().startswith("SELECT a.doc FROM actions"))
        plan = [str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + select)]
        assert not [step for step in plan if step.startswith("SCAN")], plan
    finally:
        storage.close()
