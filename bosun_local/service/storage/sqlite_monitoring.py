"""SQLite tables of monitoring figures: one merged document per deployment, model and minute."""
from __future__ import annotations

import json
from collections.abc import Iterator

from bosun_local.service.figures import empty_minute, merge_record
from bosun_local.service.storage.base import Row
from bosun_local.service.storage.sqlite_associations import AssociationTables
from bosun_local.service.timeutil import now_iso


class MonitoringTables(AssociationTables):
    """Monitoring figures of SQLiteStorage; uses its transaction(), _exec() and _conn()."""

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
                    self.store_predictions(record)
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
