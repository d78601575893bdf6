"""`/api/v2` reporting routes: datarobot-mlops' API spooler and `ReportingApiClient`, with no monitoring agent.

`MLOps().set_api_spooler(url, token)` posts each record's data straight here, one route per record type
(`predictionRequests`, `predictionInputs`, `predictionStats`, `actuals`, `customMetrics/{id}`, `remoteEvents`),
in DataRobot's shape: `{"data": [items]}` with features as `[{"name", "values"}]`. Every item becomes a spool
record with a fresh id and goes through the monitoring agent's own aggregation and the same ingest
transaction, so a report counts the same whether it came over a spool or this API. Actuals posted by
`ReportingApiClient.report_actuals_data` wait on an async status URL, which answers 303 at once: we store
synchronously.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from bosun_local.contracts import records
from bosun_local.monitoring.aggregation import UNKNOWN_MODEL, Aggregator, Entry, actuals_entry_from_rows, minute_of
from bosun_local.monitoring.baselines import BaselineCache
from bosun_local.service.monitoring_models import IngestIn
from bosun_local.service.routes import monitoring
from bosun_local.service.routes.deps import AUTH, Ctx

log = logging.getLogger("bosun_local.service")
# datarobot-mlops reads `message` from a refused report, so 422s here carry it instead of FastAPI's `detail`.
_REFUSED_SCHEMA = {"type": "object", "properties": {"message": {"type": "string"}}}
_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {"description": "the report is refused; `message` names the item and field",
          "content": {"application/json": {"schema": _REFUSED_SCHEMA}}},
}
router = APIRouter(prefix="/api/v2", tags=["datarobot-compatible"], dependencies=AUTH, responses=_REFUSED)
STATUS_ID = "stored"
# Baseline caches per service context (the routes are module functions; a test may run several services).
_BASELINES: dict[int, BaselineCache] = {}


def _message(status: int, message: str) -> JSONResponse:
    """Return DataRobot's error body, which its clients quote in their exceptions."""
    return JSONResponse({"message": message}, status_code=status)


class BadReport(ValueError):
    """A posted report is not what datarobot-mlops sends; the message names the item and field."""


async def _items(request: Request) -> list[dict[str, Any]]:
    """Return the `data` items of a posted body (a bare object counts as one item)."""
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise BadReport(f"body is not JSON: {exc}") from exc
    items = body.get("data") if isinstance(body, dict) and "data" in body else [body]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadReport("expected {\"data\": [objects]}")
    return items


def _aggregator(ctx: Any) -> Aggregator:
    """Return an aggregator whose drift bins come from the deployment's baseline in storage."""
    def fetch(deployment_id: str) -> dict[str, Any] | None:
        dep = ctx.storage.get_deployment(deployment_id)
        return ctx.storage.get_baseline(dep["packageId"]) if dep else None

    cache = _BASELINES.get(id(ctx))
    if cache is None:
        cache = _BASELINES[id(ctx)] = BaselineCache(fetch, ttl_sec=30.0)
    return Aggregator(cache)


def _record(deployment_id: str, data_type: str, data: dict[str, Any], where: str) -> records.Record:
    """Return a validated spool record of one item, with a fresh id (the API carries none)."""
    try:
        records.validate_data(data_type, data)
    except records.RecordError as exc:
        raise BadReport(f"{where}: {exc.reason}") from exc
    return records.Record(records.new_record_id(), deployment_id, data_type, data)


def _features_as_columns(item: dict[str, Any], where: str) -> dict[str, Any]:
    """Return a predictionInputs item with DataRobot's `[{"name", "values"}]` features as the spool's columns."""
    features = item.get("features")
    if isinstance(features, list):
        try:
            item = {**item, "features": {f["name"]: f["values"] for f in features}}
        except (KeyError, TypeError) as exc:
            raise BadReport(f"{where}.features: expected [{{\"name\": ..., \"values\": [...]}}]") from exc
    return item


def _stats_entry(deployment_id: str, item: dict[str, Any], where: str) -> Entry:
    """Return the entry of a predictionStats item (DataRobot's API shape): rows and prediction sum, no drift bins."""
    try:
        timestamp = records.parse_timestamp(item.get("timestamp"))  # type: ignore[arg-type]
    except records.RecordError as exc:
        raise BadReport(f"{where}: {exc.reason}") from exc
    predictions = item.get("predictions")
    if isinstance(predictions, dict) and isinstance(predictions.get("count"), int):
        rows, total = predictions["count"], float(predictions.get("sum") or 0.0)
    else:
        # No prediction aggregate: the rows are the largest count of any feature's numeric or categorical stats.
        counts = [int(stat.get("count") or 0) + int(f.get("stats", {}).get("missingCount") or 0)
                  for f in item.get("features") or [] if isinstance(f, dict)
                  for stat in (f.get("stats", {}).get("numericStats"), f.get("stats", {}).get("categoricalStats"))
                  if isinstance(stat, dict)]
        rows, total = max(counts, default=0), 0.0
    model_id = item.get("modelId")
    return {"recordId": records.new_record_id(), "deploymentId": deployment_id,
            "modelId": str(model_id) if model_id else UNKNOWN_MODEL, "minute": minute_of(timestamp),
            "kind": "predictions", "rows": rows, "predictionSum": total}


async def _store(ctx: Any, entries: list[Entry]) -> JSONResponse:
    """Ingest entries exactly as the monitoring agent's do (one transaction, 422 naming a bad field)."""
    try:
        body = IngestIn.model_validate({"records": entries})
    except ValidationError as exc:
        return _message(422, f"report is invalid: {exc.errors()[0].get('loc')}: {exc.errors()[0].get('msg')}")
    result = await run_in_threadpool(monitoring.ingest, ctx, body)
    return JSONResponse({"message": "ok", **result}, status_code=202)


async def _report(ctx: Any, request: Request, deployment_id: str, data_type: str) -> JSONResponse:
    try:
        items = await _items(request)
        aggregator = _aggregator(ctx)
        entries: list[Entry] = []
        for index, item in enumerate(items):
            where = f"data[{index}]"
            if data_type == records.PREDICTION_STATS:
                entries.append(_stats_entry(deployment_id, item, where))
                continue
            if data_type == records.PREDICTIONS_DATA:
                item = _features_as_columns(item, where)
            entries.append(aggregator.entry(_record(deployment_id, data_type, item, where)))  # type: ignore[arg-type]
    except BadReport as exc:
        return _message(422, str(exc))
    return await _store(ctx, entries)


@router.post("/deployments/{deployment_id}/predictionRequests/fromJSON/")
async def prediction_requests(ctx: Ctx, request: Request, deployment_id: str) -> JSONResponse:
    """Store deployment stats (report_deployment_stats through the API spooler)."""
    return await _report(ctx, request, deployment_id, records.DEPLOYMENT_STATS)


@router.post("/deployments/{deployment_id}/predictionInputs/fromJSON/")
async def prediction_inputs(ctx: Ctx, request: Request, deployment_id: str) -> JSONResponse:
    """Store features and predictions (report_predictions_data through the API spooler)."""
    return await _report(ctx, request, deployment_id, records.PREDICTIONS_DATA)


@router.post("/deployments/{deployment_id}/predictionStats/fromJSON/")
async def prediction_stats(ctx: Ctx, request: Request, deployment_id: str) -> JSONResponse:
    """Store client-side aggregates (report_aggregated_predictions_data through the API spooler)."""
    return await _report(ctx, request, deployment_id, records.PREDICTION_STATS)


@router.post("/deployments/{deployment_id}/actuals/fromJSON/")
async def actuals(ctx: Ctx, request: Request, deployment_id: str) -> Response:
    """Store actuals (report_actuals through the API spooler, ReportingApiClient.report_actuals_data)."""
    try:
        rows = await _items(request)
        for index, row in enumerate(rows):
            if "associationId" not in row or "actualValue" not in row:
                raise BadReport(f"data[{index}] needs associationId and actualValue")
    except BadReport as exc:
        return _message(422, str(exc))
    model_id = next((str(r["modelId"]) for r in rows if r.get("modelId")), None)
    record = records.Record(records.new_record_id(), deployment_id, records.ACTUALS_DATA,
                            {"actualsList": rows, **({"modelId": model_id} if model_id else {})})
    response = await _store(ctx, [actuals_entry_from_rows(record, rows)])
    if response.status_code == 202:
        response.headers["Location"] = str(request.url_for("report_status", status_id=STATUS_ID))
    return response


@router.get("/status/{status_id}/", name="report_status")
def report_status(status_id: str) -> Response:
    """Answer the async-status poll of ReportingApiClient: stored already, so 303 See Other."""
    return Response(status_code=303, headers={"Location": "/api/v2/version/"})


@router.post("/deployments/{deployment_id}/customMetrics/{metric_id}/fromJSON/")
async def custom_metric(ctx: Ctx, request: Request, deployment_id: str, metric_id: str) -> JSONResponse:
    """Store custom metric buckets (report_deployment_metric / report_model_metric through the API spooler)."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        return _message(422, "body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("buckets"), list):
        return _message(422, "expected {\"buckets\": [{\"timestamp\", \"value\"}]}")
    data = {"modelId": body.get("modelId"), "customMetricId": metric_id, "buckets": body["buckets"]}
    try:
        entry = _aggregator(ctx).entry(_record(deployment_id, records.CUSTOM_METRIC, data, "body"))
    except BadReport as exc:
        return _message(422, str(exc))
    return await _store(ctx, [entry])  # type: ignore[list-item]


@router.post("/remoteEvents/")
async def remote_event(ctx: Ctx, request: Request) -> JSONResponse:
    """Store an event of report_event (datarobot-mlops' Event) as a deployment event, counted in its stats."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        return _message(422, "body is not JSON")
    if not isinstance(body, dict) or not body.get("eventType") or not body.get("deploymentId"):
        return _message(422, "expected an event with eventType, message and deploymentId")
    try:
        entry = _aggregator(ctx).entry(_record(str(body["deploymentId"]), records.EVENT, body, "body"))
    except BadReport as exc:
        return _message(422, str(exc))
    return await _store(ctx, [entry])  # type: ignore[list-item]
