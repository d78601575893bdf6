"""`/api/v1/monitoring/ingest`: figure records from monitoring agents, deduplicated by recordId."""
from __future__ import annotations

from fastapi import APIRouter

from bosun_local.contracts.latency import LEGACY_BUCKETS_MS, LatencySketch, SketchError
from bosun_local.contracts.record_bounds import MAX_COUNT, time_problem
from bosun_local.service.accuracy_status import mark_changed
from bosun_local.service.api_errors import invalid
from bosun_local.service.custom_metrics import store_reported_event
from bosun_local.service.monitoring_models import (
    ActualColumnsIn,
    ActualIn,
    IngestIn,
    IngestOut,
    IngestRecord,
    RequestsIn,
)
from bosun_local.service.routes.deps import AUTH, Ctx, errors
from bosun_local.service.routes.fast_json import OrjsonRoute
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import minute_iso, parse_time
from bosun_local.service.traffic import mark_shadow_associations

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"], dependencies=AUTH,
                   route_class=OrjsonRoute)
LEGACY_LATENCY_BINS = len(LEGACY_BUCKETS_MS) + 1


@router.post("/ingest", response_model=IngestOut, responses=errors(e422="a record is invalid"))
def ingest(ctx: Ctx, body: IngestIn) -> Row:
    """Store records in one transaction; a recordId seen before counts as a duplicate and is ignored."""
    records = [_checked(record, f"records[{index}] (recordId {record.recordId!r})")
               for index, record in enumerate(body.records)]
    mark_shadow_associations(ctx, records)
    events = [r for r in records if r["kind"] == "event"]
    with ctx.storage.transaction():
        stored, duplicates = ctx.storage.ingest([r for r in records if r["kind"] != "event"])
        for record in events:  # one by one: an app's event becomes a deployment event only the first time
            new, repeated = ctx.storage.ingest([record])
            stored, duplicates = stored + new, duplicates + repeated
            if new:
                store_reported_event(ctx, record)
    mark_changed(ctx, {r["deploymentId"] for r in records
                       if r.get("associations") or r.get("actuals") or r.get("actualColumns")})
    return {"stored": stored, "duplicates": duplicates}


def _checked(record: IngestRecord, where: str) -> Row:
    """Return a record as storage takes it, its latency as a sketch; 422 naming the field when it is wrong."""
    counts = [*record.latencyCounts, *record.predictionCounts, *(v for c in record.featureCounts.values() for v in c)]
    if any(v < 0 for v in counts):
        raise invalid(f"{where}: counts must not be negative", "send the counts the agent aggregated")
    if any(v > MAX_COUNT for v in counts):
        raise invalid(f"{where}: a count is over the plausible maximum of {MAX_COUNT:,} for one minute",
                      "send the counts the agent aggregated")
    try:
        moment = parse_time(record.minute)
        minute = minute_iso(moment)
    except (ValueError, OverflowError) as exc:
        raise invalid(f"{where}: minute {record.minute!r} is not an ISO 8601 time",
                      "send the minute like 2026-11-21T19:43:00Z") from exc
    problem = time_problem(moment)
    if problem:
        raise invalid(f"{where}: minute {record.minute!r} {problem.split(': fix')[0]}",
                      "fix the clock of the host that reported it; the record is refused, not stored")
    row = {**record.model_dump(exclude_none=True, exclude={"latencyCounts", "latencySketch", "associations"}),
           "minute": minute}
    if record.associations is not None:
        # The validated columns as they are: dumping copies every id and prediction once more (a tenth of a
        # microsecond a row, on the service's busiest path).
        row["associations"] = {k: v for k, v in record.associations if v is not None}
    try:
        if record.latencySketch is not None:
            row["latencySketch"] = LatencySketch.from_wire(record.latencySketch.model_dump(), "latencySketch").to_wire()
        elif record.latencyCounts:
            if len(record.latencyCounts) != LEGACY_LATENCY_BINS:
                raise invalid(f"{where}: latencyCounts has {len(record.latencyCounts)} buckets, expected "
                              f"{LEGACY_LATENCY_BINS}", "send latencySketch (bosun_local.contracts.latency)")
            row["latencySketch"] = LatencySketch.from_legacy_counts(record.latencyCounts).to_wire()
    except SketchError as exc:
        raise invalid(f"{where}: {exc}", "build the sketch with bosun_local.contracts.latency") from exc
    if record.associations is not None:
        _check_associations(record, where)
    check_actual_times(record.actuals or [], where)
    if record.actualColumns is not None:
        _check_actual_columns(record.actualColumns, where)
    if record.requests is not None:
        _check_requests(record.requests, where)
    elif record.kind == "requests":
        raise invalid(f"{where}: kind requests needs the requests columns", "send requests.recordIds and the rest")
    return row


def _check_requests(requests: RequestsIn, where: str) -> None:
    n = len(requests.recordIds)
    for name in ("predictions", "executionTimeMs", "userErrors", "systemErrors"):
        if len(getattr(requests, name)) != n:
            raise invalid(f"{where}: requests.{name} has {len(getattr(requests, name))} values for {n} record ids",
                          "send one value per record id")


def _check_actual_columns(columns: ActualColumnsIn, where: str) -> None:
    n = len(columns.associationIds)
    for name in ("actualValues", "timestamps", "wasActedOn"):
        column = getattr(columns, name)
        if column is not None and len(column) != n:
            raise invalid(f"{where}: actualColumns.{name} has {len(column)} values for {n} association ids",
                          "send one value per association id")
    for i, text in enumerate(columns.timestamps or []):
        if text is not None:
            try:
                parse_time(text)
            except (ValueError, OverflowError) as exc:
                raise invalid(f"{where}: actualColumns.timestamps[{i}] {text!r} is not an ISO 8601 time",
                              "send times like 2026-11-21T19:43:12Z, or null") from exc


def check_actual_times(actuals: list[ActualIn], where: str) -> None:
    """Refuse (422) actuals whose timestamp is not an ISO 8601 time."""
    for i, actual in enumerate(actuals):
        if actual.timestamp is not None:
            try:
                parse_time(actual.timestamp)
            except (ValueError, OverflowError) as exc:
                raise invalid(f"{where}: actuals[{i}].timestamp {actual.timestamp!r} is not an ISO 8601 time",
                              "send times like 2026-11-21T19:43:12Z, or leave timestamp out") from exc


def _check_associations(record: IngestRecord, where: str) -> None:
    assoc = record.associations
    assert assoc is not None
    n = len(assoc.ids)
    columns = {"predictions": assoc.predictions, "probabilities": assoc.probabilities, "labels": assoc.labels,
               "timestamps": assoc.timestamps}
    for name, column in columns.items():
        if column is not None and len(column) != n:
            raise invalid(f"{where}: associations.{name} has {len(column)} values for {n} ids",
                          "send one value per association id")
    if assoc.probabilities is not None:
        width = len(assoc.classNames or [])
        if width < 2 or any(len(p) != width for p in assoc.probabilities):
            raise invalid(f"{where}: associations.probabilities need one value per class of classNames "
                          f"({width} classes)", "send classNames with the probability rows")
    for text in [assoc.timestamp, *(assoc.timestamps or [])]:
        if text is not None:
            try:
                parse_time(text)
            except (ValueError, OverflowError) as exc:
                raise invalid(f"{where}: associations timestamp {text!r} is not an ISO 8601 time",
                              "send times like 2026-11-21T19:43:12.5Z") from exc
