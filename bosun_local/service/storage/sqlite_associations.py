"""Predictions by association id, each joined to its actual whichever arrives first (SQL both backends run).

Hundreds of thousands of ids a second go through here. A record's predictions are stored as one block row
(association_blocks.py); association_rows holds a row per id only once its actual is known (matched, or waiting
for its prediction), kept small: the deployment as a small integer, times as integer epoch milliseconds.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import numpy as np
import orjson

from bosun_local.service.storage.association_blocks import (
    BLOCK_FIELDS,
    BLOCK_READ,
    MAX_BLOCK_ROWS,
    POS_BITS,
    PREDICTION_COLUMNS,
    Block,
    BlockIndex,
    encode,
    split,
)
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
_BLOCK_FIELDS = ", ".join(BLOCK_FIELDS)
_NONE = -1  # an id without an index value
# Ids the in-memory index holds at most (about 100 bytes each); past it the oldest blocks are compacted into rows.
# Config key associationIndexMaxIds sets it for the service.
DEFAULT_INDEX_MAX_IDS = 5_000_000
_COMPACT_PER_CALL = 250_000


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


def pick(column: Sequence[Any], positions: list[int]) -> list[Any]:
    """Return the column's values at these positions (itemgetter: one C call, not a Python step per value)."""
    if len(positions) < 2:
        return [column[k] for k in positions]
    return list(itemgetter(*positions)(column))


_ACTUAL_KEYS = ("associationIds", "actualValues", "timestamps", "wasActedOn")


def actual_columns(actuals: list[Row]) -> Row:
    """Return actuals given one dict each as the columns store_actual_columns takes."""
    return {"associationIds": [a["associationId"] for a in actuals],
            "actualValues": [a["actualValue"] for a in actuals],
            "timestamps": [a.get("timestamp") for a in actuals], "wasActedOn": [a.get("wasActedOn") for a in actuals]}


def concat_columns(parts: list[Row]) -> Row:
    """Return several actual column sets as one, in order (an optional column missing from a part is None there)."""
    if len(parts) == 1:
        return parts[0]
    out: Row = {key: [] for key in _ACTUAL_KEYS}
    for part in parts:
        n = len(part["associationIds"])
        for key in _ACTUAL_KEYS:
            out[key].extend(part.get(key) or repeat(None, n))
    return out


class AssociationTables:
    """Association half of SQLStore; uses its transaction(), _exec() and _conn()."""

    transaction: Any
    _exec: Any
    _conn: Any
    _dep_keys: dict[str, int]
    index_max_ids = DEFAULT_INDEX_MAX_IDS
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

    def _made_key(self, deployment_id: str) -> int:
        """Return the deployment key of an id, made when it has none yet."""
        key = self._dep_key(deployment_id)
        if key is None:  # only a failed insert leaves none, and that raised already
            raise LookupError(f"no association key for deployment {deployment_id}")
        return key

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

    def _record_keys(self, record: Row) -> list[int]:
        """Return the deployment keys a record's predictions are stored under (its own, and a canary copy's)."""
        # A challenger's predictions answer the same association ids as the champion's: kept under their own key.
        keys = [self._made_key(record.get("associationKey") or record["deploymentId"])]
        if record.get("copyAssociationKey"):
            keys.append(self._made_key(record["copyAssociationKey"]))
        return keys

    def _index(self) -> BlockIndex:
        """Return the index of first predictions, caught up with every committed block (inside a write transaction)."""
        index: BlockIndex | None = self.__dict__.get("_block_index")
        if index is None:
            index = self.__dict__["_block_index"] = BlockIndex.build(self._conn())
        else:
            index.catch_up(self._conn())
        return index

    def _forget_index(self) -> None:
        """Drop the in-memory index (a rolled-back write may have indexed blocks it never stored); rebuilt on need."""
        self.__dict__["_block_index"] = None

    def _waiting_among(self, dep: int, ids: Sequence[str]) -> set[str]:
        """Return which of the ids have an actual waiting for its prediction (usually none: one index probe)."""
        most = 4 * len(ids)
        waiting = self._exec(f"SELECT association_id FROM association_rows{self.waiting_index_hint} WHERE dep = ? "
                             "AND predicted_ms IS NULL LIMIT ?", (dep, most + 1)).fetchall()
        if len(waiting) <= most:
            return {row[0] for row in waiting}.intersection(ids) if waiting else set()
        found: set[str] = set()
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = list(ids[start:start + _IN_CHUNK])
            found.update(row[0] for row in self._exec(
                f"SELECT association_id FROM association_rows WHERE dep = ? AND predicted_ms IS NULL AND "
                f"association_id IN ({', '.join('?' * len(chunk))})", (dep, *chunk)))
        return found

    def _join_waiting(self, dep: int, shared: dict[str, Any], columns: dict[str, list[Any]],
                      positions: list[int]) -> None:
        """Give the actuals that came first the predictions at these positions of a record."""
        own = {name: column for name, column in columns.items() if name != "association_id"}
        assigned = ", ".join(f"{c} = ?" for c in [*shared, *own])
        ids = columns["association_id"]
        self._conn().executemany(
            f"UPDATE association_rows SET {assigned} WHERE dep = ? AND association_id = ? AND predicted_ms IS NULL",
            ([*shared.values(), *(column[k] for column in own.values()), dep, ids[k]] for k in positions))

    def _store_block(self, index: BlockIndex, dep: int, shared: dict[str, Any],
                     columns: dict[str, list[Any]], block: dict[str, Any], received_s: int) -> None:
        """Store a record's predictions under a deployment key as one block; index the ids it predicts first."""
        ids = columns["association_id"]
        known = index.maps.setdefault(dep, {})
        waiting = self._waiting_among(dep, ids)
        if waiting:
            # Their rows (with the actual) now hold the first prediction; a row wins over the block's copy.
            self._join_waiting(dep, shared, columns, [k for k, association_id in enumerate(ids)
                                                      if association_id in waiting and association_id not in known])
        row = self._exec(f"INSERT INTO association_blocks (dep, received_s, {_BLOCK_FIELDS}) VALUES (?, ?, "
                         f"{', '.join('?' * len(block))}) RETURNING id", (dep, received_s, *block.values())).fetchone()
        index.add(dep, int(row[0]), ids)

    def store_predictions(self, record: Row) -> None:
        """Store what was predicted under each association id of an ingest record (the first prediction wins)."""
        self.store_prediction_records([record])

    def store_prediction_records(self, records: list[Row]) -> None:
        """Store the predictions of a batch's records in their order, a block per record and deployment key."""
        if not records:
            return
        received_s = int(now_ms() / 1000)
        with self.transaction():
            index = self._index()
            for record in records:
                shared, columns = self._prediction_columns(record)
                keys = self._record_keys(record)
                total = len(columns["association_id"])
                for start in range(0, total, MAX_BLOCK_ROWS):
                    part = columns if total <= MAX_BLOCK_ROWS else \
                        {name: column[start:start + MAX_BLOCK_ROWS] for name, column in columns.items()}
                    block = encode(shared, part)
                    for dep in keys:
                        self._store_block(index, dep, shared, part, block, received_s)
            self._compact(index)

    def _compact(self, index: BlockIndex) -> None:
        """Move the oldest blocks' first predictions to rows while the index holds more than index_max_ids."""
        # Bounded work per call: at the cap, a call moves about as many ids as it added.
        budget = _COMPACT_PER_CALL
        while index.size > self.index_max_ids and index.held and budget > 0:
            block_id, (dep, _count) = next(iter(index.held.items()))
            row = self._exec(f"SELECT ids, compacted, {BLOCK_READ} FROM association_blocks WHERE id = ?",
                             (block_id,)).fetchone()
            if row is None:  # purged by another replica
                budget -= max(len(index.drop(block_id, dep, None)), 1)
                continue
            ids = orjson.loads(row["ids"])
            positions = index.drop(block_id, dep, ids)
            budget -= max(len(positions), 1)
            if row["compacted"] or not positions:
                continue  # compacted by another replica: its rows are there
            positions.sort(key=ids.__getitem__)  # in id order: one walk over the table's B-tree
            columns = Block.from_row(row).take(np.asarray(positions, dtype=np.int64))
            columns["association_id"] = pick(ids, positions)
            # A row there already holds a match (same prediction) or an older first prediction: it stays.
            insert_columns(self._conn(), "association_rows", {"dep": dep}, columns, "ON CONFLICT DO NOTHING",
                           self.numbered_parameters)
            self._exec("UPDATE association_blocks SET compacted = 1 WHERE id = ?", (block_id,))

    def store_actuals(self, deployment_id: str, model_id: str | None, actuals: list[Row],
                      received: str | None = None) -> tuple[int, int]:
        return self.store_actual_columns(deployment_id, actual_columns(actuals), received)

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
            dep = self._made_key(deployment_id)
            index = self._index()
            known = index.maps.get(dep, {})
            ids = own["association_id"]
            refs = np.fromiter(map(known.get, ids, repeat(_NONE)), dtype=np.int64, count=len(ids))
            wanted = set((refs[refs != _NONE] >> POS_BITS).tolist())
            blocks = index.blocks(self._conn(), wanted)
            if len(blocks) < len(wanted):  # purged by another replica: those ids go the way of unknown ones
                refs[np.isin(refs >> POS_BITS, list(wanted - blocks.keys())) & (refs != _NONE)] = _NONE
            # Ids whose first prediction is in a block become matched rows; the rest upsert as before (a row
            # holding the prediction, or one that waits for it).
            in_blocks = np.flatnonzero(refs != _NONE)
            stored = self._join_blocks(dep, shared, own, in_blocks, refs[in_blocks], blocks) if len(in_blocks) else 0
            if len(in_blocks) < len(ids):
                # In id order (no id repeats now), like the matched rows: one walk over the table's B-tree.
                keep = sorted(np.flatnonzero(refs == _NONE).tolist(), key=ids.__getitem__)
                rest = {name: pick(column, keep) for name, column in own.items()}
                constants = {"dep": dep, **shared, "received_s": int(epoch_ms(received, now) / 1000)}
                stored += insert_columns(self._conn(), "association_rows", constants, rest, _ACTUAL_UPSERT,
                                         self.numbered_parameters)
        return stored, total - stored

    def _join_blocks(self, dep: int, shared: dict[str, Any], own: dict[str, list[Any]], positions: np.ndarray,
                     values: np.ndarray, blocks: dict[int, Block]) -> int:
        """Write a matched row per actual (at `positions` of own, its index value in `values`) whose prediction is
        in a block; return how many were not matched before."""
        block_of = values >> POS_BITS
        at = values & ((1 << POS_BITS) - 1)
        # Grouped by block: each block's columns are taken at its positions in one go.
        order = np.argsort(block_of, kind="stable")
        cuts = [0, *(np.flatnonzero(np.diff(block_of[order])) + 1).tolist(), len(order)]
        rows: dict[str, list[Any]] = {name: [] for name in PREDICTION_COLUMNS}
        for start, end in zip(cuts, cuts[1:], strict=False):
            chosen = order[start:end]
            for name, column in blocks[int(block_of[chosen[0]])].take(at[chosen]).items():
                rows[name].extend(column)
        picked = positions[order].tolist()
        rows.update({name: pick(column, picked) for name, column in own.items()})
        # In id order, the inserts walk the table's B-tree once instead of landing each on another page: random
        # ids (UUIDs) cost a fraction, ids that sort together about the same.
        by_id = sorted(range(len(picked)), key=rows["association_id"].__getitem__)
        rows = {name: pick(column, by_id) for name, column in rows.items()}
        # A column of one value (no labels, one block's time) is bound once per statement, not once per row.
        constants = {"dep": dep, **shared}
        for name in PREDICTION_COLUMNS:
            column = rows[name]
            if column.count(column[0]) == len(column):
                constants[name] = column[0]
                del rows[name]
        # A row there already: with an actual, that one came first and wins; without, it holds an older first
        # prediction (compacted, or stored before blocks) and takes the actual.
        return insert_columns(self._conn(), "association_rows", constants, rows, _ACTUAL_UPSERT,
                              self.numbered_parameters)

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
        empty = {"common": 0, "agree": 0, "matched": 0, "correct": 0, "labelled": 0, "squares": 0.0, "absolute": 0.0,
                 "n": 0}
        # A write transaction: the index is caught up with every committed block and no writer changes it meanwhile.
        with self.transaction():
            dep = self._dep_key(deployment_id, create=False)
            other = self._dep_key(other_key, create=False)
            if dep is None or other is None:
                return empty
            index = self._index()
            theirs = self._predictions_since(index, other, epoch_ms(since, 0))
            mine = self._predictions_of(index, dep, theirs)
        figures = dict(empty)
        for association_id, (prediction, label) in theirs.items():
            found = mine.get(association_id)
            if found is None:
                continue
            own_prediction, own_label, actual, actual_num = found
            figures["common"] += 1
            if own_label is not None:
                agree = own_label == label
            else:
                agree = own_prediction is not None and prediction is not None and \
                    abs(own_prediction - prediction) <= tolerance * max(abs(own_prediction), abs(prediction))
            figures["agree"] += agree
            if actual is None:
                continue
            figures["matched"] += 1
            if label is not None:
                figures["labelled"] += 1
                figures["correct"] += label == actual
            if actual_num is not None and prediction is not None:
                error = actual_num - prediction
                figures["n"] += 1
                figures["squares"] += error * error
                figures["absolute"] += abs(error)
        return figures

    def _predictions_since(self, index: BlockIndex, dep: int, since_ms: int) -> dict[str, tuple[Any, Any]]:
        """Return the first prediction (value, label) of every id predicted under a key since a time."""
        found: dict[str, tuple[Any, Any]] = {}
        for row in self._exec("SELECT association_id, prediction, label FROM association_rows WHERE dep = ? "
                              "AND predicted_ms >= ?", (dep, since_ms)):
            found[row[0]] = (row[1], row[2])
        known = index.maps.get(dep, {})
        base_of = 1 << POS_BITS
        for row in self._exec(f"SELECT id, ids, {BLOCK_READ} FROM association_blocks WHERE dep = ? AND last_ms >= ? "
                              "AND compacted = 0 ORDER BY id", (dep, since_ms)):
            block = Block.from_row(row)
            base = int(row["id"]) * base_of
            for pos, association_id in enumerate(orjson.loads(row["ids"])):
                # Only the positions that hold an id's first prediction; a row (joined) holds the same one.
                if known.get(association_id) == base + pos and block.predicted_ms(pos) >= since_ms:
                    found.setdefault(association_id, (block.prediction(pos), block.label(pos)))
        return found

    def _predictions_of(self, index: BlockIndex, dep: int,
                        ids: Mapping[str, Any]) -> dict[str, tuple[Any, Any, Any, Any]]:
        """Return (prediction, label, actual, actual number) of those ids predicted under a key."""
        found: dict[str, tuple[Any, Any, Any, Any]] = {}
        columns = "association_id, predicted_ms, prediction, label, actual, actual_num, actual_ms"
        if len(ids) > 20 * _IN_CHUNK:
            rows = self._exec(f"SELECT {columns} FROM association_rows WHERE dep = ?", (dep,)).fetchall()
        else:
            names = list(ids)
            rows = [row for start in range(0, len(names), _IN_CHUNK) for row in self._exec(
                f"SELECT {columns} FROM association_rows WHERE dep = ? AND association_id IN "
                f"({', '.join('?' * len(names[start:start + _IN_CHUNK]))})", (dep, *names[start:start + _IN_CHUNK]))]
        actuals: dict[str, tuple[Any, Any]] = {}
        for row in rows:
            if row["actual_ms"] is not None:
                actuals[row[0]] = (row["actual"], row["actual_num"])
            if row["predicted_ms"] is not None and row[0] in ids:
                found[row[0]] = (row["prediction"], row["label"], *actuals.get(row[0], (None, None)))
        # The rest were predicted in blocks (an actual waiting in a row has no prediction there).
        known = index.maps.get(dep, {})
        refs = {association_id: split(known[association_id]) for association_id in ids
                if association_id not in found and association_id in known}
        blocks = index.blocks(self._conn(), {block_id for block_id, _pos in refs.values()})
        for association_id, (block_id, pos) in refs.items():
            block = blocks.get(block_id)
            if block is None:
                continue  # purged
            actual = actuals.get(association_id, (None, None))
            found[association_id] = (block.prediction(pos), block.label(pos), *actual)
        return found

    def waiting_actuals(self, deployment_id: str) -> int:
        dep = self._dep_key(deployment_id, create=False)
        if dep is None:
            return 0
        return int(self._exec(f"SELECT COUNT(*) FROM association_rows{self.waiting_index_hint} WHERE dep = ? "
                              "AND predicted_ms IS NULL", (dep,)).fetchone()[0])

    def purge_associations(self, before: str) -> int:
        cutoff = int(epoch_ms(before, 0) / 1000)
        with self.transaction():
            index: BlockIndex | None = self.__dict__.get("_block_index")
            purged = 0
            for row in self._exec("SELECT id, dep, n, ids, compacted FROM association_blocks WHERE received_s < ?",
                                  (cutoff,)):
                purged += 0 if row["compacted"] else int(row["n"])  # a compacted block's ids are counted as rows
                if index is not None:
                    index.drop(int(row["id"]), int(row["dep"]), orjson.loads(row["ids"]))
            self._exec("DELETE FROM association_blocks WHERE received_s < ?", (cutoff,))
            # Predictions of blocks, and rows (actuals with or without their prediction, compacted predictions).
            return purged + int(self._exec("DELETE FROM association_rows WHERE received_s < ?", (cutoff,)).rowcount)
