"""`/api/v1/monitoring/ingest`: figure records from monitoring agents, deduplicated by recordId."""
from __future__ import annotations

from fastapi import APIRouter

from bosun_local.contracts.latency import LATENCY_BUCKETS_MS
from bosun_local.service.api_errors import invalid
from bosun_local.service.models import IngestIn, IngestOut
from bosun_local.service.routes.deps import AUTH, Ctx, errors
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import minute_iso, parse_time

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"], dependencies=AUTH)
LATENCY_BINS = len(LATENCY_BUCKETS_MS) + 1


@router.post("/ingest", response_model=IngestOut, responses=errors(e422="a record is invalid"))
def ingest(ctx: Ctx, body: IngestIn) -> Row:
    """Store records in one transaction; a recordId seen before counts as a duplicate and is ignored."""
    records = []
    for index, record in enumerate(body.records):
        where = f"records[{index}] (recordId {record.recordId!r})"
        if record.latencyCounts and len(record.latencyCounts) != LATENCY_BINS:
            raise invalid(f"{where}: latencyCounts has {len(record.latencyCounts)} buckets, expected {LATENCY_BINS}",
                          "count latencies per LATENCY_BUCKETS_MS bucket plus a final +inf bucket")
        if any(v < 0 for v in record.latencyCounts + record.predictionCounts) or any(
                v < 0 for counts in record.featureCounts.values() for v in counts):
            raise invalid(f"{where}: counts must not be negative", "send the counts the agent aggregated")
        try:
            minute = minute_iso(parse_time(record.minute))
        except (ValueError, OverflowError) as exc:
            raise invalid(f"{where}: minute {record.minute!r} is not an ISO 8601 time",
                          "send the minute like 2026-11-21T19:43:00Z") from exc
        records.append({**record.model_dump(), "minute": minute})
    stored, duplicates = ctx.storage.ingest(records)
    return {"stored": stored, "duplicates": duplicates}
