"""SQLite monitoring storage: the bucket-to-sketch migration of existing data, association retention, first-wins."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bosun_local.contracts.latency import LatencySketch
from bosun_local.service.storage.migrations import MIGRATIONS, SCHEMA_VERSION
from bosun_local.service.storage.sqlite import SQLiteStorage


def old_database(path: Path) -> None:
    """Write a database as the release before the sketch left it: schema 1 and a minute of bucket counts."""
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])  # type: ignore[arg-type]
    doc = {"deploymentId": "d", "modelId": "m", "minute": "2026-11-30T10:00:00Z", "records": 1, "predictions": 20,
           "userErrors": 0, "systemErrors": 0, "executionTimeMs": 100.0, "rows": 0, "predictionSum": 0,
           "actualsMatched": 0, "absErrorSum": 0, "correct": 0,
           "latencyCounts": [0, 0, 20] + [0] * 11, "predictionCounts": [], "featureCounts": {}}
    conn.execute("INSERT INTO minute_figures VALUES ('d', 'm', '2026-11-30T10:00:00Z', ?)", (json.dumps(doc),))
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()


def test_old_bucket_minutes_are_migrated_to_sketches(tmp_path: Path) -> None:
    path = tmp_path / "bosun.db"
    old_database(path)
    storage = SQLiteStorage(path)
    try:
        assert storage.schema_version() == SCHEMA_VERSION
        (minute,) = list(storage.minute_figures("d", "2026-11-30T00:00:00Z"))
        assert "latencyCounts" not in minute
        sketch = LatencySketch.from_wire(minute["latencySketch"])
        assert (sketch.count, sketch.min, sketch.max, sketch.from_buckets) == (20, 2.0, 5.0, True)
        assert minute["predictions"] == 20  # everything else kept
    finally:
        storage.close()


def test_first_actual_wins_and_old_rows_are_purged(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "bosun.db")
    try:
        assert storage.store_actuals("d", None, [{"associationId": "a", "actualValue": 1.0}],
                                     "2026-01-01T00:00:00.000000Z") == (1, 0)
        assert storage.store_actuals("d", "m", [{"associationId": "a", "actualValue": 2.0},
                                                {"associationId": "b", "actualValue": "yes"},
                                                {"associationId": "b", "actualValue": "no"}]) == (1, 2)
        storage.ingest([{"recordId": "r1", "deploymentId": "d", "modelId": "m", "minute": "2026-11-30T10:00:00Z",
                         "kind": "predictions", "associations": {"ids": ["a"], "predictions": [1.5]}}])
        (row,) = storage.matched_rows("d", "2026-01-01T00:00:00.000000Z")
        assert (row["prediction"], row["actual_num"], row["actual"]) == (1.5, 1.0, "1")
        assert storage.waiting_actuals("d") == 1  # b has no prediction
        assert storage.purge_associations("2026-06-01T00:00:00.000000Z") == 1  # a was received in January
        assert storage.matched_rows("d", "2026-01-01T00:00:00.000000Z") == []
    finally:
        storage.close()


def test_association_rows_of_schema_3_move_to_the_compact_table(tmp_path: Path) -> None:
    path = tmp_path / "bosun.db"
    conn = sqlite3.connect(path)
    for step in MIGRATIONS[:3]:
        if callable(step):
            step(conn)
        else:
            conn.executescript(step)
    conn.execute("INSERT INTO associations (deployment_id, association_id, model_id, predicted_at, prediction, "
                 "actual, actual_num, actual_at, received_at) VALUES ('d', 'a', 'm', '2026-11-30T10:00:00.000000Z', "
                 "2.5, '3', 3.0, '2026-11-30T11:00:00.000000Z', '2026-11-30T10:00:01.000000Z')")
    conn.execute("PRAGMA user_version=3")
    conn.commit()
    conn.close()
    storage = SQLiteStorage(path)
    try:
        (row,) = storage.matched_rows("d", "2026-11-30T09:00:00Z")
        assert (row["prediction"], row["actual_num"]) == (2.5, 3.0)
        assert storage.matched_rows("d", "2026-11-30T10:00:00.001Z") == []  # predicted_at kept to the ms
    finally:
        storage.close()


def requests_record(ids: list[str], minute: str = "2026-11-30T10:00:00Z") -> dict:
    """Return a `requests` ingest record: DEPLOYMENT_STATS of `ids`, the n-th with n+1 predictions, n ms."""
    return {"recordId": ids[0], "deploymentId": "d", "modelId": "m", "minute": minute, "kind": "requests",
            "requests": {"recordIds": ids, "predictions": [int(i[1:]) + 1 for i in ids],
                         "executionTimeMs": [float(i[1:]) for i in ids],
                         "userErrors": [int(i[1:]) % 2 == 0 for i in ids], "systemErrors": [False] * len(ids)}}


def test_requests_columns_count_each_record_id_once_across_batches(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "bosun.db")
    try:
        assert storage.ingest([requests_record(["r0", "r1", "r2"])]) == (3, 0)
        # A redelivery overlapping the first batch, with a repeat inside the batch itself: only r3 and r4 are new.
        assert storage.ingest([requests_record(["r2", "r3", "r3", "r1", "r4"])]) == (2, 3)
        assert storage.ingest([requests_record(["r4", "r0"])]) == (0, 2)
        (minute,) = list(storage.minute_figures("d", "2026-11-30T00:00:00Z"))
        assert (minute["records"], minute["predictions"], minute["userErrors"]) == (5, 1 + 2 + 3 + 4 + 5, 3)
        sketch = LatencySketch.from_wire(minute["latencySketch"])
        assert (sketch.count, sketch.zero_count, sketch.min, sketch.max, sketch.sum) == (5, 1, 0.0, 4.0, 10.0)
        assert minute["executionTimeMs"] == 10.0
    finally:
        storage.close()


def test_actual_columns_store_like_rows(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "bosun.db")
    try:
        columns = {"associationIds": ["a", "b", 3], "actualValues": [1.0, "yes", 2],
                   "timestamps": [None, "2026-11-30T10:00:00Z", None], "wasActedOn": [True, None, False]}
        assert storage.store_actual_columns("d", columns) == (3, 0)
        assert storage.store_actual_columns("d", {"associationIds": ["a"], "actualValues": [5.0]}) == (0, 1)
        storage.ingest([{"recordId": "p", "deploymentId": "d", "modelId": "m", "minute": "2026-11-30T10:00:00Z",
                         "kind": "predictions", "associations": {"ids": ["a", "b", "3"], "labels": ["1", "no", "2"]}}])
        rows = sorted(storage.matched_rows("d", "2026-01-01T00:00:00Z"), key=lambda r: r["actual"])
        assert [(r["label"], r["actual"]) for r in rows] == [("1", "1"), ("2", "2"), ("no", "yes")]
    finally:
        storage.close()
