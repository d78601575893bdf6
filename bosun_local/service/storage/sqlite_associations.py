"""Predictions by association id, each joined to its actual whichever arrives first (SQL both backends run).

Hundreds of thousands of rows a second go through here, so a row is kept small: the deployment as a small
integer, times as integer epoch milliseconds, one narrow INSERT per prediction kind.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import chain, repeat
from typing import Any

import numpy as np

from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import parse_time

# An actual fills its side once: a redelivered or re-uploaded actual is a duplicate, never a second match.
_ACTUAL_INSERT = ("INSERT INTO association_rows (dep, association_id, actual, actual_num, actual_ms, was_acted_on, "
                  "received_s)")
_ACTUAL_UPSERT = (
    "ON CONFLICT (dep, association_id) DO UPDATE SET actual = excluded.actual, "
    "actual_num = excluded.actual_num, actual_ms = excluded.actual_ms, was_acted_on = excluded.was_acted_on "
    "WHERE association_rows.actual_ms IS NULL")
# SQLite's default limit of host parameters in one statement is 32766; stay well below it.
_IN_CHUNK = 900
# Rows per multi-row INSERT: one statement step per few hundred rows instead of one per row takes about a
# quarter off the per-row cost of storing association ids (bind, step and reset per row in executemany).
_ROWS_PER_INSERT = 400


def insert_rows(conn: Any, head: str, width: int, rows: Sequence[Sequence[Any]], tail: str = "") -> int:
    """Run `head VALUES (...), (...) tail` over rows in multi-row statements; return the rows inserted."""
    inserted = 0
    one = "(" + ", ".join("?" * width) + ")"
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start:start + _ROWS_PER_INSERT]
        sql = f"{head} VALUES {', '.join(repeat(one, len(chunk)))} {tail}"
        inserted += max(conn.execute(sql, list(chain.from_iterable(chunk))).rowcount, 0)
    return inserted


def epoch_ms(text: str | None, default: int) -> int:
    """Return an ISO time as integer epoch milliseconds (the default when absent)."""
    return int(parse_time(text).timestamp() * 1000) if text else default


def now_ms() -> int:
    """Return the current time as epoch milliseconds."""
    return int(datetime.now(UTC).timestamp() * 1000)


def actual_text(value: Any) -> str:
    """Return an actual value as the label text it is compared by (1.0 and 1 are both "1")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def actual_number(value: Any) -> float | None:
    """Return an actual value as a number when it is one (regression targets), else None."""
    if isinstance(value, bool | int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class AssociationTables:
    """Association half of SQLStore; uses its transaction(), _exec() and _conn()."""

    transaction: Any
    _exec: Any
    _conn: Any
    _dep_keys: dict[str, int]

    def _dep_key(self, deployment_id: str, create: bool = True) -> int | None:
        """Return the small integer standing for a deployment id in association rows."""
        keys = self.__dict__.setdefault("_dep_keys", {})
        if deployment_id in keys:
            return keys[deployment_id]
        if create:
            self._exec("INSERT INTO association_deployments (deployment_id) VALUES (?) ON CONFLICT DO NOTHING",
                       (deployment_id,))
        row = self._exec("SELECT id FROM association_deployments WHERE deployment_id = ?", (deployment_id,)).fetchone()
        if row is None:
            return None
        keys[deployment_id] = int(row[0])
        return keys[deployment_id]

    def _class_set(self, names: list[str]) -> int:
        text = json.dumps(names, separators=(",", ":"), ensure_ascii=False)
        self._exec("INSERT INTO class_sets (names) VALUES (?) ON CONFLICT DO NOTHING", (text,))
        return int(self._exec("SELECT id FROM class_sets WHERE names = ?", (text,)).fetchone()[0])

    def store_predictions(self, record: Row) -> None:
        """Store what was predicted under each association id of an ingest record (the first prediction wins)."""
        assoc = record["associations"]
        ids = [str(i) for i in assoc["ids"]]
        n = len(ids)
        default_ms = epoch_ms(assoc.get("timestamp"), epoch_ms(record["minute"], 0))
        columns: dict[str, Any] = {
            "predicted_ms": [epoch_ms(t, default_ms) for t in assoc["timestamps"]] if assoc.get("timestamps")
            else repeat(default_ms, n)}
        if assoc.get("probabilities"):
            names = assoc["classNames"]
            matrix = np.asarray(assoc["probabilities"], dtype=np.float64)
            columns["label"] = [names[i] for i in np.argmax(matrix, axis=1)]
            columns["class_set"] = repeat(self._class_set(names), n)
            if len(names) == 2:
                columns["prediction"] = matrix[:, 1].tolist()
            else:
                columns["probs"] = [row.tobytes() for row in matrix]
        elif assoc.get("labels"):
            columns["label"] = [None if v is None else str(v) for v in assoc["labels"]]
            if assoc.get("classNames"):
                columns["class_set"] = repeat(self._class_set(assoc["classNames"]), n)
        else:
            columns["prediction"] = assoc.get("predictions") or repeat(None, n)
        with self.transaction():
            # A challenger's predictions answer the same association ids as the champion's: kept under their own key.
            dep = self._dep_key(record.get("associationKey") or record["deploymentId"])
            head = f"INSERT INTO association_rows (dep, association_id, {', '.join(columns)}, received_s)"
            rows = list(zip(repeat(dep), ids, *columns.values(), repeat(int(now_ms() / 1000)), strict=False))
            conn = self._conn()
            inserted = insert_rows(conn, head, len(columns) + 3, rows, "ON CONFLICT DO NOTHING")
            if inserted < n:
                # Some ids exist already: actuals that came first get their prediction now (a repeat stays first).
                assigned = ", ".join(f"{c} = ?" for c in columns)
                conn.executemany(f"UPDATE association_rows SET {assigned} WHERE dep = ? AND association_id = ? "
                                 "AND predicted_ms IS NULL", [(*r[2:-1], r[0], r[1]) for r in rows])
            if record.get("copyAssociationKey"):
                copy = self._dep_key(record["copyAssociationKey"])
                insert_rows(conn, head, len(columns) + 3, [(copy, *r[1:]) for r in rows], "ON CONFLICT DO NOTHING")

    def store_actuals(self, deployment_id: str, model_id: str | None, actuals: list[Row],
                      received: str | None = None) -> tuple[int, int]:
        columns = {"associationIds": [a["associationId"] for a in actuals],
                   "actualValues": [a["actualValue"] for a in actuals],
                   "timestamps": [a.get("timestamp") for a in actuals],
                   "wasActedOn": [a.get("wasActedOn") for a in actuals]}
        return self.store_actual_columns(deployment_id, columns, received)

    def store_actual_columns(self, deployment_id: str, columns: Row, received: str | None = None) -> tuple[int, int]:
        """Store actuals given as columns (associationIds, actualValues, timestamps?, wasActedOn?)."""
        now = now_ms()
        received_s = int(epoch_ms(received, now) / 1000)
        ids, values = columns["associationIds"], columns["actualValues"]
        times, acted = columns.get("timestamps"), columns.get("wasActedOn")
        with self.transaction():
            dep = self._dep_key(deployment_id)
            rows = list(zip(
                repeat(dep), map(str, ids), map(actual_text, values), map(actual_number, values),
                [epoch_ms(t, now) for t in times] if times and any(times) else repeat(now),
                [None if a is None else int(a) for a in acted] if acted else repeat(None),
                repeat(received_s)))
            if len({r[1] for r in rows}) < len(rows):
                # One statement may not upsert a key twice (PostgreSQL refuses): the first of a repeated id wins.
                seen: set[str] = set()
                rows = [r for r in rows if r[1] not in seen and not seen.add(r[1])]  # type: ignore[func-returns-value]
            stored = insert_rows(self._conn(), _ACTUAL_INSERT, 7, rows, _ACTUAL_UPSERT)
        return stored, len(ids) - stored

    def matched_count(self, deployment_id: str, association_ids: Sequence[str]) -> int:
        dep = self._dep_key(deployment_id, create=False)
        if dep is None:
            return 0
        total = 0
        for start in range(0, len(association_ids), _IN_CHUNK):
            chunk = list(association_ids[start:start + _IN_CHUNK])
            total += int(self._exec(
                f"SELECT COUNT(*) FROM association_rows WHERE dep = ? AND association_id IN "
                f"({', '.join('?' * len(chunk))}) AND predicted_ms IS NOT NULL AND actual_ms IS NOT NULL",
                (dep, *chunk)).fetchone()[0])
        return total

    def matched_rows(self, deployment_id: str, since: str, model_id: str | None = None) -> list[Row]:
        dep = self._dep_key(deployment_id, create=False)
        if dep is None:
            return []
        rows = self._exec(
            "SELECT a.prediction, a.label, a.probs, a.actual, a.actual_num, c.names FROM association_rows a "
            "LEFT JOIN class_sets c ON c.id = a.class_set WHERE a.dep = ? AND a.predicted_ms >= ? "
            "AND a.predicted_ms IS NOT NULL AND a.actual_ms IS NOT NULL", (dep, epoch_ms(since, 0)))
        return [dict(r) for r in rows]

    def regression_sums(self, deployment_id: str, since: str) -> Row:
        dep = self._dep_key(deployment_id, create=False)
        empty = {"matched": 0, "n": 0, "squares": 0.0, "absolute": 0.0, "actualSum": 0.0, "actualSquares": 0.0}
        if dep is None:
            return empty
        row = self._exec(
            "SELECT COUNT(*), COUNT(d), COALESCE(SUM(d * d), 0.0), COALESCE(SUM(ABS(d)), 0.0), "
            "COALESCE(SUM(y), 0.0), COALESCE(SUM(y * y), 0.0) FROM ("
            "SELECT actual_num - prediction AS d, CASE WHEN prediction IS NOT NULL THEN actual_num END AS y "
            "FROM association_rows WHERE dep = ? AND predicted_ms >= ? AND predicted_ms IS NOT NULL "
            "AND actual_ms IS NOT NULL) AS m", (dep, epoch_ms(since, 0))).fetchone()
        return {key: type(empty[key])(value) for key, value in zip(empty, row, strict=True)}

    def agreement(self, deployment_id: str, other_key: str, since: str, tolerance: float) -> Row:
        """Return how the predictions under other_key agree with the deployment's, and their accuracy on its actuals.

        Regression predictions agree within `tolerance` (relative); labels agree when equal.
        """
        dep = self._dep_key(deployment_id, create=False)
        other = self._dep_key(other_key, create=False)
        empty = {"common": 0, "agree": 0, "matched": 0, "correct": 0, "labelled": 0, "squares": 0.0, "absolute": 0.0,
                 "n": 0}
        if dep is None or other is None:
            return empty
        row = self._exec(
            "SELECT COUNT(*), "
            # Portable SQL (PostgreSQL runs it too): COUNT(CASE ...) and COALESCE(SUM()), no TOTAL() or scalar MAX().
            "COUNT(CASE WHEN (a.label IS NOT NULL AND a.label = b.label) OR (a.label IS NULL AND "
            "ABS(a.prediction - b.prediction) <= ? * (CASE WHEN ABS(a.prediction) > ABS(b.prediction) "
            "THEN ABS(a.prediction) ELSE ABS(b.prediction) END)) THEN 1 END), "
            "COUNT(a.actual_ms), COUNT(CASE WHEN a.actual_ms IS NOT NULL AND b.label = a.actual THEN 1 END), "
            "COUNT(CASE WHEN a.actual_ms IS NOT NULL AND b.label IS NOT NULL THEN 1 END), "
            "COALESCE(SUM((a.actual_num - b.prediction) * (a.actual_num - b.prediction)), 0.0), "
            "COALESCE(SUM(ABS(a.actual_num - b.prediction)), 0.0), COUNT(a.actual_num - b.prediction) "
            "FROM association_rows b JOIN association_rows a ON a.dep = ? AND a.association_id = b.association_id "
            "WHERE b.dep = ? AND b.predicted_ms >= ? AND a.predicted_ms IS NOT NULL",
            (tolerance, dep, other, epoch_ms(since, 0))).fetchone()
        return {key: int(value) if isinstance(empty[key], int) else float(value)
                for key, value in zip(empty, row, strict=True)}

    def waiting_actuals(self, deployment_id: str) -> int:
        dep = self._dep_key(deployment_id, create=False)
        if dep is None:
            return 0
        return int(self._exec("SELECT COUNT(*) FROM association_rows WHERE dep = ? AND predicted_ms IS NULL",
                              (dep,)).fetchone()[0])

    def purge_associations(self, before: str) -> int:
        with self.transaction():
            return self._exec("DELETE FROM association_rows WHERE received_s < ?",
                              (int(epoch_ms(before, 0) / 1000),)).rowcount
