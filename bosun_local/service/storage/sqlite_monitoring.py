"""SQLite tables of monitoring: minute figures, and predictions by association id joined to their actuals."""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from bosun_local.service.figures import empty_minute, merge_record
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import iso, now_iso, parse_time

# A prediction fills its side of a row once; a repeat of the same association id keeps the first.
_PREDICTION_UPSERT = (
    "INSERT INTO associations (deployment_id, association_id, model_id, predicted_at, prediction, label, probs, "
    "class_set, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (deployment_id, association_id) "
    "DO UPDATE SET model_id = excluded.model_id, predicted_at = excluded.predicted_at, "
    "prediction = excluded.prediction, label = excluded.label, probs = excluded.probs, "
    "class_set = excluded.class_set WHERE associations.predicted_at IS NULL")
# An actual fills its side once: a redelivered or re-uploaded actual is a duplicate, never a second match.
_ACTUAL_UPSERT = (
    "INSERT INTO associations (deployment_id, association_id, model_id, actual, actual_num, actual_at, "
    "was_acted_on, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (deployment_id, association_id) "
    "DO UPDATE SET actual = excluded.actual, actual_num = excluded.actual_num, actual_at = excluded.actual_at, "
    "was_acted_on = excluded.was_acted_on, model_id = COALESCE(associations.model_id, excluded.model_id) "
    "WHERE associations.actual_at IS NULL")
# SQLite's default limit of host parameters in one statement is 32766; stay well below it.
_IN_CHUNK = 900


def actual_text(value: Any) -> str:
    """Return an actual value as the label text it is compared by (1.0 and 1 are both "1")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def actual_number(value: Any) -> float | None:
    """Return an actual value as a number when it is one (regression targets), else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def stored_time(text: str | None, default: str) -> str:
    """Return an ISO time as the fixed-width stored form (the default when absent)."""
    return iso(parse_time(text)) if text else default


class MonitoringTables:
    """Monitoring half of SQLiteStorage; uses its transaction(), _exec() and _conn()."""

    transaction: Any
    _exec: Any
    _conn: Any

    # minute figures
    def ingest(self, records: list[Row]) -> tuple[int, int]:
        stored = duplicates = 0
        received = now_iso()
        with self.transaction():
            for record in records:
                inserted = self._exec("INSERT OR IGNORE INTO ingested_records (record_id, received_at) VALUES (?, ?)",
                                      (record["recordId"], received)).rowcount
                if not inserted:
                    duplicates += 1
                    continue
                if record["kind"] != "actuals":
                    self._merge_minute(record)
                if record.get("associations"):
                    self._store_predictions(record, received)
                if record.get("actuals"):
                    self.store_actuals(record["deploymentId"], record["modelId"], record["actuals"], received)
                stored += 1
        return stored, duplicates

    def _merge_minute(self, record: Row) -> None:
        key = (record["deploymentId"], record["minute"], record["modelId"])
        row = self._exec("SELECT doc FROM minute_figures WHERE deployment_id = ? AND minute = ? AND model_id = ?",
                         key).fetchone()
        doc = merge_record(json.loads(row["doc"]) if row else empty_minute(key[0], key[2], key[1]), record)
        self._exec("INSERT INTO minute_figures (deployment_id, minute, model_id, doc) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (deployment_id, minute, model_id) DO UPDATE SET doc = excluded.doc",
                   (*key, json.dumps(doc, separators=(",", ":"))))

    def purge_figures(self, before: str) -> int:
        with self.transaction():
            return self._exec("DELETE FROM minute_figures WHERE minute < ?", (before,)).rowcount

    def minute_figures(self, deployment_id: str, since: str) -> Iterator[Row]:
        rows = self._exec("SELECT doc FROM minute_figures WHERE deployment_id = ? AND minute >= ? ORDER BY minute",
                          (deployment_id, since)).fetchall()
        for row in rows:
            yield json.loads(row["doc"])

    # associations
    def _class_set(self, names: list[str]) -> int:
        text = json.dumps(names, separators=(",", ":"), ensure_ascii=False)
        self._exec("INSERT OR IGNORE INTO class_sets (names) VALUES (?)", (text,))
        return int(self._exec("SELECT id FROM class_sets WHERE names = ?", (text,)).fetchone()[0])

    def _store_predictions(self, record: Row, received: str) -> None:
        assoc = record["associations"]
        ids = assoc["ids"]
        n = len(ids)
        default_time = stored_time(assoc.get("timestamp"), iso(parse_time(record["minute"])))
        times = [stored_time(t, default_time) for t in assoc["timestamps"]] if assoc.get("timestamps") else repeat(
            default_time, n)
        predictions: Any = repeat(None, n)
        labels: Any = repeat(None, n)
        probs: Any = repeat(None, n)
        class_set: Any = repeat(None, n)
        if assoc.get("probabilities"):
            names = assoc["classNames"]
            matrix = np.asarray(assoc["probabilities"], dtype=np.float64)
            labels = [names[i] for i in np.argmax(matrix, axis=1)]
            class_set = repeat(self._class_set(names), n)
            if len(names) == 2:
                predictions = matrix[:, 1].tolist()
            else:
                probs = [row.tobytes() for row in matrix]
        elif assoc.get("labels"):
            labels = [None if v is None else str(v) for v in assoc["labels"]]
            if assoc.get("classNames"):
                class_set = repeat(self._class_set(assoc["classNames"]), n)
        else:
            predictions = assoc.get("predictions") or repeat(None, n)
        self._conn().executemany(_PREDICTION_UPSERT, zip(
            repeat(record["deploymentId"]), map(str, ids), repeat(record["modelId"]), times, predictions, labels,
            probs, class_set, repeat(received), strict=False))

    def store_actuals(self, deployment_id: str, model_id: str | None, actuals: list[Row],
                      received: str | None = None) -> tuple[int, int]:
        received = received or now_iso()
        with self.transaction():
            cursor = self._conn().executemany(_ACTUAL_UPSERT, (
                (deployment_id, str(a["associationId"]), model_id, actual_text(a["actualValue"]),
                 actual_number(a["actualValue"]), stored_time(a.get("timestamp"), received),
                 None if a.get("wasActedOn") is None else int(bool(a["wasActedOn"])), received)
                for a in actuals))
            stored = max(cursor.rowcount, 0)
        return stored, len(actuals) - stored

    def matched_count(self, deployment_id: str, association_ids: Sequence[str]) -> int:
        total = 0
        for start in range(0, len(association_ids), _IN_CHUNK):
            chunk = list(association_ids[start:start + _IN_CHUNK])
            total += int(self._exec(
                f"SELECT COUNT(*) FROM associations WHERE deployment_id = ? AND association_id IN "
                f"({', '.join('?' * len(chunk))}) AND predicted_at IS NOT NULL AND actual_at IS NOT NULL",
                (deployment_id, *chunk)).fetchone()[0])
        return total

    def matched_rows(self, deployment_id: str, since: str, model_id: str | None = None) -> list[Row]:
        sql = ("SELECT a.model_id, a.prediction, a.label, a.probs, a.actual, a.actual_num, c.names "
               "FROM associations a LEFT JOIN class_sets c ON c.id = a.class_set "
               "WHERE a.deployment_id = ? AND a.predicted_at >= ? AND a.predicted_at IS NOT NULL "
               "AND a.actual_at IS NOT NULL")
        params: list[Any] = [deployment_id, since]
        if model_id is not None:
            sql += " AND a.model_id = ?"
            params.append(model_id)
        return [dict(r) for r in self._exec(sql, params)]

    def waiting_actuals(self, deployment_id: str) -> int:
        return int(self._exec("SELECT COUNT(*) FROM associations WHERE deployment_id = ? AND predicted_at IS NULL",
                              (deployment_id,)).fetchone()[0])

    def purge_associations(self, before: str) -> int:
        with self.transaction():
            return self._exec("DELETE FROM associations WHERE received_at < ?", (before,)).rowcount
