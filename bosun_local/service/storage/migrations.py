"""Schema migrations of the SQLite store; `PRAGMA user_version` holds the applied version.

PostgreSQL has the same numbered steps in pg_migrations.py: append to both lists (a test checks they match).
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime

from bosun_local.contracts.latency import LatencySketch


def latency_counts_to_sketches(conn: sqlite3.Connection) -> None:
    """Rewrite each stored minute's fixed-bucket latency counts as a latency sketch (marked as converted)."""
    rows = conn.execute("SELECT deployment_id, minute, model_id, doc FROM minute_figures").fetchall()
    for deployment_id, minute, model_id, text in rows:
        doc = json.loads(text)
        counts = doc.pop("latencyCounts", None)
        if counts is None:
            continue
        doc["latencySketch"] = LatencySketch.from_legacy_counts(counts).to_wire()
        conn.execute("UPDATE minute_figures SET doc = ? WHERE deployment_id = ? AND minute = ? AND model_id = ?",
                     (json.dumps(doc, separators=(",", ":")), deployment_id, minute, model_id))


def compact_associations(conn: sqlite3.Connection) -> None:
    """Move association rows to the compact table (integer deployment keys and epoch times), dropping the old one."""
    conn.execute("CREATE TABLE association_deployments (id INTEGER PRIMARY KEY, deployment_id TEXT NOT NULL UNIQUE)")
    # WITHOUT ROWID: the key is the lookup. The partial indexes cover only matched rows (accuracy windows) and
    # actuals still waiting for their prediction, so a plain prediction insert touches one B-tree.
    conn.execute(
        "CREATE TABLE association_rows (dep INTEGER NOT NULL, association_id TEXT NOT NULL, predicted_ms INTEGER, "
        "prediction REAL, label TEXT, probs BLOB, class_set INTEGER, actual TEXT, actual_num REAL, actual_ms INTEGER, "
        "was_acted_on INTEGER, received_s INTEGER NOT NULL, PRIMARY KEY (dep, association_id)) WITHOUT ROWID")
    conn.execute("CREATE INDEX association_rows_matched ON association_rows (dep, predicted_ms) "
                 "WHERE predicted_ms IS NOT NULL AND actual_ms IS NOT NULL")
    conn.execute("CREATE INDEX association_rows_waiting ON association_rows (dep) WHERE predicted_ms IS NULL")
    conn.execute("INSERT INTO association_deployments (deployment_id) SELECT DISTINCT deployment_id FROM associations")

    def ms(text: str | None) -> int | None:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000) if text else None

    conn.create_function("bosun_ms", 1, ms)
    conn.execute(
        "INSERT INTO association_rows SELECT d.id, a.association_id, bosun_ms(a.predicted_at), a.prediction, a.label, "
        "a.probs, a.class_set, a.actual, a.actual_num, bosun_ms(a.actual_at), a.was_acted_on, "
        "bosun_ms(a.received_at) / 1000 FROM associations a JOIN association_deployments d "
        "ON d.deployment_id = a.deployment_id")
    conn.execute("DROP TABLE associations")


# Each entry moves the schema from version i to i + 1 (SQL statements, or a function for data rewrites);
# append, never edit a released one.
MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    """
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE packages (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, doc TEXT NOT NULL, baseline TEXT);
    CREATE INDEX packages_name ON packages (name);
    CREATE TABLE environments (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, doc TEXT NOT NULL);
    CREATE TABLE deployments (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, environment_id TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, doc TEXT NOT NULL);
    CREATE UNIQUE INDEX deployments_live_name ON deployments (name) WHERE deleted = 0;
    CREATE TABLE actions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, deployment_id TEXT NOT NULL,
        type TEXT NOT NULL, status TEXT NOT NULL, lease_expires_at TEXT, created_at TEXT NOT NULL,
        doc TEXT NOT NULL);
    CREATE INDEX actions_queue ON actions (deployment_id, status, seq);
    CREATE INDEX actions_status ON actions (status, seq);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, time TEXT NOT NULL,
        deployment_id TEXT, environment_id TEXT, type TEXT NOT NULL, status TEXT NOT NULL,
        message TEXT NOT NULL, data TEXT NOT NULL);
    CREATE INDEX events_time ON events (time);
    CREATE INDEX events_deployment ON events (deployment_id, time);
    CREATE TABLE agents (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE notification_rules (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, status TEXT NOT NULL, next_attempt_at TEXT NOT NULL,
        doc TEXT NOT NULL);
    CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
    CREATE TABLE ingested_records (record_id TEXT PRIMARY KEY, received_at TEXT NOT NULL);
    CREATE INDEX ingested_records_time ON ingested_records (received_at);
    CREATE TABLE minute_figures (
        deployment_id TEXT NOT NULL, model_id TEXT NOT NULL, minute TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (deployment_id, minute, model_id));
    """,
    latency_counts_to_sketches,
    # Predictions by association id and their actuals, joined whichever arrives first. WITHOUT ROWID: the key is
    # the lookup. The partial indexes cover only matched rows (accuracy windows) and actuals still waiting.
    """
    CREATE TABLE class_sets (id INTEGER PRIMARY KEY, names TEXT NOT NULL UNIQUE);
    CREATE TABLE associations (
        deployment_id TEXT NOT NULL, association_id TEXT NOT NULL, model_id TEXT,
        predicted_at TEXT, prediction REAL, label TEXT, probs BLOB, class_set INTEGER,
        actual TEXT, actual_num REAL, actual_at TEXT, was_acted_on INTEGER, received_at TEXT NOT NULL,
        PRIMARY KEY (deployment_id, association_id)) WITHOUT ROWID;
    CREATE INDEX associations_matched ON associations (deployment_id, predicted_at)
        WHERE predicted_at IS NOT NULL AND actual_at IS NOT NULL;
    CREATE INDEX associations_waiting ON associations (deployment_id) WHERE predicted_at IS NULL;
    """,
    compact_associations,
    # Open actions in queue order: a claim walks these, never the held or finished ones.
    "CREATE INDEX actions_open ON actions (seq) WHERE status IN ('pending', 'claimed')",
    # A record's association ids and predictions as one row (storage/association_blocks.py); AUTOINCREMENT: an id
    # is never reused after a purge, so the in-memory index can catch up by id.
    """
    CREATE TABLE association_blocks (
        id INTEGER PRIMARY KEY AUTOINCREMENT, dep INTEGER NOT NULL, received_s INTEGER NOT NULL,
        first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, n INTEGER NOT NULL, ids TEXT NOT NULL, times BLOB,
        predictions TEXT, labels TEXT, probs BLOB, class_set INTEGER,
        compacted INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX association_blocks_dep ON association_blocks (dep, last_ms);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
