"""Tables of monitoring figures (SQL both backends run): one merged document per deployment, model and minute."""
from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import repeat

from bosun_local.service.figures import empty_minute, merge_record, requests_figures
from bosun_local.service.storage.base import Row
from bosun_local.service.storage.sqlite_associations import AssociationTables, actual_columns, concat_columns
from bosun_local.service.timeutil import now_iso

_RECORD_ID_INSERT = "INSERT INTO ingested_records (record_id, received_at) VALUES (?, ?) ON CONFLICT DO NOTHING"
# SQLite's default limit of host parameters in one statement is 32766; stay well below it.
_IN_CHUNK = 900


class MonitoringTables(AssociationTables):
    """Monitoring figures of SQLStore; uses its transaction(), _exec() and _conn()."""

    # minute figures
    def ingest(self, records: list[Row]) -> tuple[int, int]:
        stored = duplicates = 0
        received = now_iso()
        # The minutes this batch touches, merged in memory and written once each: a batch of a few hundred records
        # of one minute read, merged and wrote the same document a few hundred times.
        minutes: dict[tuple[str, str, str], Row] = {}
        # Stored together after the loop, in record order (a block per record). The final rows do not depend on
        # it: a row holds the first prediction and the first actual, whichever came first.
        with_ids: list[Row] = []
        actuals: dict[str, list[Row]] = {}
        with self.transaction():
            for record in records:
                if record["kind"] == "requests":
                    new, repeated = self._ingest_requests(record, received, minutes)
                    stored, duplicates = stored + new, duplicates + repeated
                    continue
                inserted = self._exec("INSERT INTO ingested_records (record_id, received_at) VALUES (?, ?) "
                                      "ON CONFLICT DO NOTHING", (record["recordId"], received)).rowcount
                if not inserted:
                    duplicates += 1
                    continue
                if record["kind"] != "actuals":
                    self._merge_minute(record, minutes)
                if record.get("associations"):
                    with_ids.append(record)
                if record.get("actuals"):
                    actuals.setdefault(record["deploymentId"], []).append(actual_columns(record["actuals"]))
                if record.get("actualColumns"):
                    actuals.setdefault(record["deploymentId"], []).append(record["actualColumns"])
                stored += 1
            # A batch's actuals of a deployment in one call, in record order (the first actual of an id wins): one
            # id-ordered insert instead of one per record, which for random ids lands every row on another page.
            for deployment_id, parts in actuals.items():
                self.store_actual_columns(deployment_id, concat_columns(parts), received)
            self.store_prediction_records(with_ids)
            for key, doc in minutes.items():
                self._exec("INSERT INTO minute_figures (deployment_id, minute, model_id, doc) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (deployment_id, minute, model_id) DO UPDATE SET doc = excluded.doc",
                           (*key, json.dumps(doc, separators=(",", ":"))))
        return stored, duplicates

    def _ingest_requests(self, record: Row, received: str, minutes: dict[tuple[str, str, str], Row]) -> tuple[int, int]:
        """Count a `requests` record's record ids once each and merge the new ones' figures into the minute."""
        ids: list[str] = record["requests"]["recordIds"]
        conn = self._conn()
        conn.execute("SAVEPOINT requests")
        try:
            keep: list[int] | None = None
            if conn.executemany(_RECORD_ID_INSERT, zip(ids, repeat(received))).rowcount < len(ids):
                # Some were counted before (a redelivery in another batch): undo and keep only the new ones.
                conn.execute("ROLLBACK TO requests")
                keep = self._unseen_records(ids)
                conn.executemany(_RECORD_ID_INSERT, ((ids[i], received) for i in keep))
        finally:
            conn.execute("RELEASE requests")
        if keep == []:
            return 0, len(ids)
        self._merge_minute(requests_figures(record, keep), minutes)
        new = len(ids) if keep is None else len(keep)
        return new, len(ids) - new

    def _unseen_records(self, ids: list[str]) -> list[int]:
        """Return the positions of record ids neither stored before nor repeated earlier in the list."""
        seen: set[str] = set()
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start:start + _IN_CHUNK]
            seen.update(r[0] for r in self._exec(
                f"SELECT record_id FROM ingested_records WHERE record_id IN ({', '.join('?' * len(chunk))})", chunk))
        keep = []
        for i, record_id in enumerate(ids):
            if record_id not in seen:
                seen.add(record_id)
                keep.append(i)
        return keep

    def _merge_minute(self, record: Row, minutes: dict[tuple[str, str, str], Row]) -> None:
        """Merge a record into its minute's document in `minutes` (read from the table the first time)."""
        key = (record["deploymentId"], record["minute"], record["modelId"])
        doc = minutes.get(key)
        if doc is None:
            row = self._exec("SELECT doc FROM minute_figures WHERE deployment_id = ? AND minute = ? AND model_id = ?",
                             key).fetchone()
            doc = json.loads(row["doc"]) if row else empty_minute(key[0], key[2], key[1])
        minutes[key] = merge_record(doc, record)

    def purge_figures(self, before: str) -> int:
        with self.transaction():
            return self._exec("DELETE FROM minute_figures WHERE minute < ?", (before,)).rowcount

    def minute_figures(self, deployment_id: str, since: str) -> Iterator[Row]:
        rows = self._exec("SELECT doc FROM minute_figures WHERE deployment_id = ? AND minute >= ? ORDER BY minute",
                          (deployment_id, since)).fetchall()
        for row in rows:
            yield json.loads(row["doc"])
