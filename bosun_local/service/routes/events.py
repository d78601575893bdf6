"""`/api/v1/events`: record, list with filters and search, export as JSON or CSV, purge by retention."""
from __future__ import annotations

import csv
import io
import json
from typing import Annotated

from fastapi import APIRouter, Query, Response

from bosun_local.service.api_errors import invalid
from bosun_local.service.background import purge_once
from bosun_local.service.events import record_event
from bosun_local.service.models import EventIn, EventOut, PurgeIn, PurgeOut
from bosun_local.service.routes.deps import AUTH, Ctx
from bosun_local.service.storage.base import EventFilter, Row
from bosun_local.service.timeutil import iso, parse_time

router = APIRouter(prefix="/api/v1/events", tags=["events"], dependencies=AUTH)
CSV_COLUMNS = ("time", "status", "type", "deploymentId", "environmentId", "message", "id", "data")
Repeated = Query(description="repeatable")


def _time(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return iso(parse_time(value))
    except (ValueError, OverflowError) as exc:
        raise invalid(f"{name} {value!r} is not a time", "give an ISO 8601 time or an age like 15m, 2h, 7d") from exc


def _filter(deploymentId: str | None, environmentId: str | None, type_: list[str], status: list[str],
            since: str | None, until: str | None, search: str | None, limit: int, oldest_first: bool) -> EventFilter:
    return EventFilter(deployment_id=deploymentId, environment_id=environmentId, types=tuple(type_),
                       statuses=tuple(status), since=_time("since", since), until=_time("until", until),
                       search=search or None, limit=limit, oldest_first=oldest_first)


@router.get("", response_model=list[EventOut])
def list_events(ctx: Ctx, deploymentId: str | None = None, environmentId: str | None = None,
                type: Annotated[list[str] | None, Repeated] = None,  # noqa: A002
                status: Annotated[list[str] | None, Repeated] = None,
                since: str | None = None, until: str | None = None,
                search: Annotated[str | None, Query(max_length=500)] = None,
                limit: Annotated[int, Query(ge=1, le=100000)] = 1000) -> list[Row]:
    """List events, newest first; since/until take ISO times or ages (15m, 2h, 7d); search is a substring."""
    flt = _filter(deploymentId, environmentId, type or [], status or [], since, until, search, limit, False)
    return ctx.storage.list_events(flt)


@router.get("/export", responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def export_events(ctx: Ctx, format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",  # noqa: A002
                  deploymentId: str | None = None, environmentId: str | None = None,
                  type: Annotated[list[str] | None, Repeated] = None,  # noqa: A002
                  status: Annotated[list[str] | None, Repeated] = None,
                  since: str | None = None, until: str | None = None,
                  search: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    """Export matching events oldest first, as a JSON array or CSV with a header row."""
    flt = _filter(deploymentId, environmentId, type or [], status or [], since, until, search, 1_000_000, True)
    events = ctx.storage.list_events(flt)
    if format == "json":
        return Response(json.dumps(events, indent=1), media_type="application/json",
                        headers={"content-disposition": "attachment; filename=events.json"})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for event in events:
        writer.writerow([json.dumps(event["data"]) if c == "data" else event.get(c) or "" for c in CSV_COLUMNS])
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"content-disposition": "attachment; filename=events.csv"})


@router.post("", response_model=EventOut, status_code=201)
def create_event(ctx: Ctx, body: EventIn) -> Row:
    """Record an event (agents report action outcomes, status changes and observations)."""
    return record_event(ctx, body.type, body.status, body.message, body.deploymentId, body.environmentId, body.data,
                        _time("time", body.time))


@router.post("/purge", response_model=PurgeOut)
def purge(ctx: Ctx, body: PurgeIn) -> Row:
    """Delete events older than the retention (or olderThanDays) now."""
    return {"removed": purge_once(ctx, body.olderThanDays)}
