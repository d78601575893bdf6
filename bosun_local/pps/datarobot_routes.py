"""DataRobot's real-time prediction routes and the DataRobot options of `/predictions`.

Routes: `POST /predApi/v1.0/deployments/<id>/predictions` (DataRobot's request parameters and JSON/CSV answers),
`POST /predApi/v1.0/deployments/<id>/predictionsUnstructured`, and `POST [/deployments/<id>]/predictions`,
which keeps its own answer shape and gains passthrough columns and explanations. Traefik routes both prefixes
of a deployment to its PPS container.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bosun_local.pps import drum_routes, explanations, outputs
from bosun_local.pps.datarobot_outputs import dr_csv, dr_json, predictions_csv, predictions_json
from bosun_local.pps.http import CSV, Request, Response, error
from bosun_local.pps.inputs import Frame, InputError, Schema
from bosun_local.pps.memory import estimated_cost
from bosun_local.pps.model import LoadedModel, ModelError, Scored
from bosun_local.pps.passthrough import PredictOptions, Table, parse_options, read_table

if TYPE_CHECKING:
    from bosun_local.pps.app import PPSApp
    from bosun_local.pps.registry import Deployment

log = logging.getLogger("bosun_local.pps")

PREDAPI_PREFIX = "/predApi/v1.0/deployments/"
PREDAPI_ACTIONS = ("predictions", "predictionsUnstructured")
# Bodies past this size are parsed in a thread: parsing 300k rows on the event loop held health checks > 10 s.
OFF_LOOP_BYTES = 256 << 10
T = TypeVar("T")


async def route(app: PPSApp, request: Request) -> Response:
    """Answer `/predApi/v1.0/deployments/<id>/<action>`."""
    deployment_id, _, action = request.path[len(PREDAPI_PREFIX):].partition("/")
    action = action.rstrip("/")
    if not deployment_id or action not in PREDAPI_ACTIONS:
        return error(404, f"no route {request.path}; DataRobot routes: POST /predApi/v1.0/deployments/<id>/predictions"
                          ", POST /predApi/v1.0/deployments/<id>/predictionsUnstructured")
    if action == "predictionsUnstructured":  # one implementation with /deployments/<id>/predictionsUnstructured
        return await drum_routes.unstructured(app, request, deployment_id)
    if request.method != "POST":
        return Response(405, outputs.dumps({"message": f"{request.path} takes POST"}), headers=((b"allow", b"POST"),))
    deployment = app._deployment(deployment_id)
    if isinstance(deployment, Response):
        return deployment
    if deployment.model is None:
        return error(503, f"deployment {deployment.deployment_id} cannot serve: {deployment.error}")
    return await predictions(app, request, deployment, deployment.model, predapi=True)


async def _explain(model: LoadedModel, frame: Frame, scored: Scored,
                   options: PredictOptions) -> list[list[explanations.Explanation] | None] | None:
    if options.max_explanations <= 0:
        return None
    args = (model, frame, scored, options.max_explanations, options.threshold_high, options.threshold_low)
    if model.inline(frame.rows) and explanations.cheap(model):
        return explanations.explain(*args)
    return await asyncio.get_running_loop().run_in_executor(None, explanations.explain, *args)


def _read(request: Request, body: bytes, model: LoadedModel, options: PredictOptions, predapi: bool) -> Table:
    """Parse the rows; a custom model that reads its own input (DRUM's read_input_data) gets the raw body."""
    if not getattr(model, "reads_raw_input", False):
        return read_table(request.media_type, body, model.schema, options, lenient=predapi)
    frame = model.read_input(body, request.media_type)  # type: ignore[attr-defined]
    if not options.wants_passthrough:
        return Table(frame)
    try:  # the passthrough values still come from the body, read as the CSV or JSON rows it must then be
        echoed = read_table(request.media_type, body, Schema(()), options, lenient=True).passthrough
    except InputError as exc:
        raise InputError(exc.status, f"passthrough columns: this model reads its own input format and the body "
                                     f"is not CSV or JSON rows ({exc.message})") from None
    if any(len(values) != frame.rows for values in echoed.values()):
        raise InputError(422, f"passthrough columns: the model read {frame.rows} rows from the body but it holds "
                              f"{len(next(iter(echoed.values())))} CSV/JSON rows; drop the passthrough parameters")
    return Table(frame, echoed)


async def _off_loop(big: bool, work: Callable[..., T], *args: Any) -> T:
    """Run work in a thread when it is big, so /ping and other requests are answered meanwhile."""
    if not big:
        return work(*args)
    return await asyncio.get_running_loop().run_in_executor(None, work, *args)


async def predictions(app: PPSApp, request: Request, deployment: Deployment, model: LoadedModel,
                      predapi: bool) -> Response:
    """Score CSV or JSON rows, with passthrough columns and explanations when the query asks for them."""
    started = time.perf_counter()
    frame: Frame | None = None
    scored: Scored | None = None
    try:
        options = parse_options(request.query)
        if options.max_explanations > 0 and not explanations.explainer_ready(model):
            # Building it checks the model can be explained (a 422 before reading rows) and may import shap: off-loop.
            await asyncio.get_running_loop().run_in_executor(None, explanations.explainer_for, model)
        body = await request.body(app.max_body_bytes)
        started = time.perf_counter()  # execution time: from the whole body being here to the answer
        budget = app.memory
        held = await budget.reserve(estimated_cost(body, request.media_type)) if budget.total is not None else 0
        try:
            # DataRobot ignores columns the model does not take; our own route names them (a typo is a 422).
            table = await _off_loop(len(body) > OFF_LOOP_BYTES, _read, request, body, model, options, predapi)
            frame = table.frame
            scored = await app._score(model, frame)
            explained = await _explain(model, frame, scored, options)
            as_csv = "text/csv" in request.accept
            render = (dr_csv if as_csv else dr_json) if predapi else (predictions_csv if as_csv else predictions_json)
            body_out = await _off_loop(not model.inline(frame.rows), render, model, scored, table.passthrough,
                                       explained)
        finally:
            await budget.release(held)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        headers = ((b"x-datarobot-execution-time", f"{elapsed_ms:.0f}".encode()),
                   (b"x-datarobot-model-cache-hit", b"true")) if predapi else ()
        response = Response(200, body_out, CSV if as_csv else b"application/json", headers)
    except InputError as exc:
        response = error(exc.status, exc.message)
    except ModelError as exc:
        log.error("deployment %s: %s", deployment.deployment_id, exc)
        response = error(500, f"deployment {deployment.deployment_id}: {exc}")
    app._report(deployment, model, response.status, started, frame, scored)
    return response

