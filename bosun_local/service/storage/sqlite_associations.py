"""Predictions by association id, each joined to its actual whichever arrives first (SQL both backends run).

Hundreds of thousands of rows a second go through here, so a row is kept small: the deployment as a small
integer, times as integer epoch milliseconds, one narrow INSERT per prediction kind.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain, repeat
from typing import Any

import numpy as np

from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import parse_time

# An actual fills its side once: a redelivered or re-uploaded actual is a duplicate, never a second match.
_ACTUAL_UPSERT = (
    "ON CONFLICT (dep, association_id) DO UPDATE SET actual = excluded.actual, "
    "actual_num = excluded.actual_num, actual_ms = excluded.actual_ms, was_acted_on = excluded.was_acted_on "
    "WHERE association_rows.actual_ms IS NULL")
# SQLite's default limit of host parameters in one statement is 32766; stay well below it.
_IN_CHUNK = 900
# Rows per multi-row INSERT: one statement step per few hundred rows instead of one per row takes about a
# quarter off the per-row cost of storing association ids (bind, step and reset per row in executemany).
_ROWS_PER_INSERT = 500


@lru_cache(maxsize=256)
def _insert_sql(head: str, constants: int, width: int, count: int, tail: str, numbered: bool) -> str:
    """Return `head VALUES ... tail` of `count` rows: `constants` values shared by all rows, then `width` own."""
    if not numbered:
        values = ", ".join(repeat("(" + ", ".join("?" * (constants + width)) + ")", count))
    else:
        shared = [f"?{i + 1}" for i in range(constants)]
        values = ", ".join("(" + ", ".join([*shared, *(f"?{constants + row * width + j + 1}" for j in range(width))])
                           + ")" for row in range(count))
    return f"{head} VALUES {values} {tail}"


def insert_columns(conn: Any, table: str, constants: Mapping[str, Any], columns: Mapping[str, Sequence[Any]],
                   tail: str = "", numbered: bool = False) -> int:
    """Insert a row per position of the columns (equal-length lists) plus the constants; return rows written."""
    # numbered (SQLite's ?NNN): the constants are bound once per statement and each row binds only its own values,
    # put into the parameter list by slice assignment: no Python tuple per row and far fewer binds.
    head = f"INSERT INTO {table} ({', '.join([*constants, *columns])})"
    shared, values = list(constants.values()), list(columns.values())
    k, width = len(shared), len(values)
    total = len(values[0]) if values else 0
    inserted = 0
    for start in range(0, total, _ROWS_PER_INSERT):
        end = min(total, start + _ROWS_PER_INSERT)
        count = end - start
        if numbered:
            params: list[Any] = [None] * (k + width * count)
            params[:k] = shared
            for j, column in enumerate(values):
                params[k + j::width] = column[start:end]
        else:
            params = list(chain.from_iterable(zip(*(repeat(v, count) for v in shared),
                                                  *(c[start:end] for c in values), strict=False)))
        # The same string object each time: the driver's statement cache hashes and compares it on every call.
        inserted += max(conn.execute(_insert_sql(head, k, width, count, tail, numbered), params).rowcount, 0)
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


def looks_scattered(ids: Sequence[Any], sample: int = 64) -> bool:
    """Return True when a record's first ids fall in no order (random ids such as UUIDs), by their descents."""
    head = [str(i) for i in ids[:sample]]
    descents = sum(1 for a, b in zip(head, head[1:], strict=False) if a > b)
    # Random ids descend at about half the steps; counters (`a9` > `a10`) only where a digit is added.
    return len(head) > 8 and descents * 4 > len(head)


Part = tuple[dict[str, Any], dict[str, list[Any]]]  # a record's shared values and per-row columns


def sorted_by_id(names: tuple[str, ...], parts: list[Part]) -> dict[str, list[Any]]:
    """Return the rows of several records as per-row columns `names`, stably sorted by association id."""
    merged: dict[str, list[Any]] = {name: [] for name in names}
    for shared, columns in parts:
        n = len(columns["association_id"])
        for name in names:
            merged[name].extend(columns[name] if name in columns else repeat(shared[name], n))
    ids = merged["association_id"]
    # Stable: of an id repeated in the batch, the row of the earlier record stays first and wins.
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return {name: [column[i] for i in order] for name, column in merged.items()}


def _repeats_across(groups: dict[tuple[int | None, tuple[str, ...]], list[Part]]) -> bool:
    """Return True when an id occurs in two groups (field sets) of the same deployment key."""
    if len({dep for dep, _names in groups}) == len(groups):
        return False  # one group per key: nothing to compare
    seen: dict[int | None, set[str]] = {}
    for (dep, _names), parts in groups.items():
        ids = {i for _shared, columns in parts for i in columns["association_id"]}
        known = seen.setdefault(dep, set())
        if not known.isdisjoint(ids):
            return True
        known |= ids
    return False


class AssociationTables:
    """Association half of SQLStore; uses its transaction(), _exec() and _conn()."""

    transaction: Any
    _exec: Any
    _conn: Any
    _dep_keys: dict[str, int]
    # SQLite binds ?NNN placeholders (shared values bound once per statement); psycopg only positional ones.
    numbered_parameters = False
    # SQLite's planner, without statistics, counts waiting actuals by the primary key (every row of the
    # deployment) rather than the small partial index; PostgreSQL's statistics pick the index themselves.
    waiting_index_hint = ""

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

    def _prediction_columns(self, record: Row) -> tuple[dict[str, Any], dict[str, list[Any]]]:
        """Return a record's prediction values shared by its rows and those given per row (with the ids)."""
        assoc = record["associations"]
        ids = list(map(str, assoc["ids"]))
        default_ms = epoch_ms(assoc.get("timestamp"), epoch_ms(record["minute"], 0))
        # Values the same for every row are bound once per statement; the columns hold one value per id.
        shared: dict[str, Any] = {}
        columns: dict[str, list[Any]] = {"association_id": ids}
        if assoc.get("timestamps"):
            columns["predicted_ms"] = [epoch_ms(t, default_ms) for t in assoc["timestamps"]]
        else:
            shared["predicted_ms"] = default_ms
        if assoc.get("probabilities"):
            names = assoc["classNames"]
            matrix = np.asarray(assoc["probabilities"], dtype=np.float64)
            columns["label"] = [names[i] for i in np.argmax(matrix, axis=1)]
            shared["class_set"] = self._class_set(names)
            if len(names) == 2:
                columns["prediction"] = matrix[:, 1].tolist()
            else:
                columns["probs"] = [row.tobytes() for row in matrix]
        elif assoc.get("labels"):
            columns["label"] = [None if v is None else str(v) for v in assoc["labels"]]
            if assoc.get("classNames"):
                shared["class_set"] = self._class_set(assoc["classNames"])
        elif assoc.get("predictions"):
            columns["prediction"] = list(assoc["predictions"])
        else:
            shared["prediction"] = None
        return shared, columns

    def _insert_predictions(self, dep: int | None, shared: dict[str, Any], columns: dict[str, list[Any]]) -> None:
        """Insert prediction rows under a deployment key (first prediction wins); fill actuals that came first."""
        conn = self._conn()
        ids = columns["association_id"]
        n = len(ids)
        received = {"received_s": int(now_ms() / 1000)}
        inserted = insert_columns(conn, "association_rows", {"dep": dep, **shared, **received}, columns,
                                  "ON CONFLICT DO NOTHING", self.numbered_parameters)
        if inserted < n:
            # Some ids exist already: actuals that came first get their prediction now (a repeat stays first).
            own = {name: column for name, column in columns.items() if name != "association_id"}
            assigned = ", ".join(f"{c} = ?" for c in [*shared, *own])
            conn.executemany(f"UPDATE association_rows SET {assigned} WHERE dep = ? AND association_id = ? "
                             "AND predicted_ms IS NULL",
                             zip(*(repeat(v, n) for v in shared.values()), *own.values(), repeat(dep, n), ids,
                                 strict=False))

    def _record_keys(self, record: Row) -> list[int | None]:
        """Return the deployment keys a record's predictions are stored under (its own, and a canary copy's)."""
        # A challenger's predictions answer the same association ids as the champion's: kept under their own key.
        keys = [self._dep_key(record.get("associationKey") or record["deploymentId"])]
        if record.get("copyAssociationKey"):
            keys.append(self._dep_key(record["copyAssociationKey"]))
        return keys

    def store_predictions(self, record: Row) -> None:
        """Store what was predicted under each association id of an ingest record (the first prediction wins)."""
        shared, columns = self._prediction_columns(record)
        with self.transaction():
            for dep in self._record_keys(record):
                self._insert_predictions(dep, shared, columns)

    def store_prediction_records(self, records: list[Row]) -> None:
        """Store the predictions of a batch's records, in their order (the first prediction of an id wins).

        When every record's ids look random (UUIDs), the rows are merged per deployment key and kind and inserted
        in id order: the store's B-tree then takes each page once per batch, where record by record every id lands
        on another page (18.9 -> 5.0 µs per random id at 500k stored, /tmp micro of 2026-12-02). Ids that sort
        together already (`<prefix>-<n>`) stay record by record: sorting them would only add its own cost.
        """
        with self.transaction():
            # Only a batch of scattered records is merged: one mixed with ordered records keeps the record order
            # across the two kinds by going record by record.
            if len(records) < 2 or not all(looks_scattered(r["associations"]["ids"]) for r in records):
                for record in records:
                    self.store_predictions(record)
                return
            prepared = [(self._prediction_columns(record), self._record_keys(record)) for record in records]
            groups: dict[tuple[int | None, tuple[str, ...]], list[Part]] = {}
            for part, keys in prepared:
                names = tuple(sorted([*part[0], *part[1]]))
                for dep in keys:
                    groups.setdefault((dep, names), []).append(part)
            if _repeats_across(groups):
                # Records of one key with other fields (labels, predictions) share an id: one insert per field set
                # could let a later record's row of it in first, so these go in record order.
                for (shared, columns), keys in prepared:
                    for dep in keys:
                        self._insert_predictions(dep, shared, columns)
                return
            for (dep, names), parts in groups.items():
                self._insert_predictions(dep, {}, sorted_by_id(names, parts))

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
        ids, values = list(map(str, columns["associationIds"])), columns["actualValues"]
        times, acted = columns.get("timestamps"), columns.get("wasActedOn")
        total = len(ids)
        own: dict[str, list[Any]] = {"association_id": ids, "actual": list(map(actual_text, values)),
                                     "actual_num": list(map(actual_number, values))}
        shared: dict[str, Any] = {}
        if times and any(times):
            own["actual_ms"] = [epoch_ms(t, now) for t in times]
        else:
            shared["actual_ms"] = now
        if acted:
            own["was_acted_on"] = [None if a is None else int(a) for a in acted]
        else:
            shared["was_acted_on"] = None
        if len(set(ids)) < total:
            # One statement may not upsert a key twice (PostgreSQL refuses): the first of a repeated id wins.
            first: dict[str, int] = {}
            for k, i in enumerate(ids):
                first.setdefault(i, k)
            own = {name: [column[k] for k in first.values()] for name, column in own.items()}
        with self.transaction():
            dep = self._dep_key(deployment_id)
            constants = {"dep": dep, **shared, "received_s": int(epoch_ms(received, now) / 1000)}
            stored = insert_columns(self._conn(), "association_rows", constants, own, _ACTUAL_UPSERT,
                                    self.numbered_parameters)
        return stored, total - stored

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
        return int(self._exec(f"SELECT COUNT(*) FROM association_rows{self.waiting_index_hint} WHERE dep = ? "
                              "AND predicted_ms IS NULL", (dep,)).fetchone()[0])

    def purge_associations(self, before: str) -> int:
        with self.transaction():
            return self._exec("DELETE FROM association_rows WHERE received_s < ?",
                              (int(epoch_ms(before, 0) / 1000),)).rowcount
