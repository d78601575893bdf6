"""Schema migrations of the PostgreSQL store, numbered like SQLite's; table `schema_version` holds the applied one.

Step i here and step i of migrations.MIGRATIONS reach the same schema. A SQLite step that rewrites data which a
PostgreSQL database can never have held (it started at this release) is `None` here. Append, never edit a released
step; a test fails when the two lists differ in length.
"""
from __future__ import annotations

# Each entry is run as one multi-statement script inside the migration transaction.
PG_MIGRATIONS: list[str | None] = [
    # `rowid` columns keep insertion order the way SQLite's implicit rowid does, so the shared SQL orders by it.
    # instr() is SQLite's substring position, which the event search uses.
    """
    CREATE FUNCTION instr(text, text) RETURNS integer LANGUAGE sql IMMUTABLE STRICT AS 'SELECT strpos($1, $2)';
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE packages (
        rowid BIGSERIAL UNIQUE, id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL,
        doc TEXT NOT NULL, baseline TEXT);
    CREATE INDEX packages_name ON packages (name);
    CREATE TABLE environments (
        rowid BIGSERIAL UNIQUE, id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
        doc TEXT NOT NULL);
    CREATE TABLE deployments (
        rowid BIGSERIAL UNIQUE, id TEXT PRIMARY KEY, name TEXT NOT NULL, environment_id TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, doc TEXT NOT NULL);
    CREATE UNIQUE INDEX deployments_live_name ON deployments (name) WHERE deleted = 0;
    CREATE TABLE actions (
        seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, deployment_id TEXT NOT NULL,
        type TEXT NOT NULL, status TEXT NOT NULL, lease_expires_at TEXT, created_at TEXT NOT NULL,
        doc TEXT NOT NULL);
    CREATE INDEX actions_queue ON actions (deployment_id, status, seq);
    CREATE INDEX actions_status ON actions (status, seq);
    CREATE TABLE events (
        seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, time TEXT NOT NULL,
        deployment_id TEXT, environment_id TEXT, type TEXT NOT NULL, status TEXT NOT NULL,
        message TEXT NOT NULL, data TEXT NOT NULL);
    CREATE INDEX events_time ON events (time);
    CREATE INDEX events_deployment ON events (deployment_id, time);
    CREATE TABLE agents (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE notification_rules (rowid BIGSERIAL UNIQUE, id TEXT PRIMARY KEY, doc TEXT NOT NULL);
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
    None,  # SQLite: fixed-bucket latency counts rewritten as sketches (no PostgreSQL database holds old counts).
    "CREATE TABLE class_sets (id BIGSERIAL PRIMARY KEY, names TEXT NOT NULL UNIQUE);",
    # SQLite's step 4 compacts its step-3 association table; PostgreSQL starts with the compact form.
    """
    CREATE TABLE association_deployments (id BIGSERIAL PRIMARY KEY, deployment_id TEXT NOT NULL UNIQUE);
    CREATE TABLE association_rows (
        dep BIGINT NOT NULL, association_id TEXT NOT NULL, predicted_ms BIGINT, prediction DOUBLE PRECISION,
        label TEXT, probs BYTEA, class_set BIGINT, actual TEXT, actual_num DOUBLE PRECISION, actual_ms BIGINT,
        was_acted_on INTEGER, received_s BIGINT NOT NULL, PRIMARY KEY (dep, association_id));
    CREATE INDEX association_rows_matched ON association_rows (dep, predicted_ms)
        WHERE predicted_ms IS NOT NULL AND actual_ms IS NOT NULL;
    CREATE INDEX association_rows_waiting ON association_rows (dep) WHERE predicted_ms IS NULL;
    """,
    "CREATE INDEX actions_open ON actions (seq) WHERE status IN ('pending', 'claimed')",
    """
    CREATE TABLE association_blocks (
        id BIGSERIAL PRIMARY KEY, dep BIGINT NOT NULL, received_s BIGINT NOT NULL, first_ms BIGINT NOT NULL,
        last_ms BIGINT NOT NULL, n INTEGER NOT NULL, ids TEXT NOT NULL, times BYTEA, predictions TEXT, labels TEXT,
        probs BYTEA, class_set BIGINT, compacted INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX association_blocks_dep ON association_blocks (dep, last_ms);
    """,
]

PG_SCHEMA_VERSION = len(PG_MIGRATIONS)
