"""DRUM's unstructured prediction routes (/predictionsUnstructured, /predictUnstructured) on the PPS."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from bosun_local.pps.http import Request, Response, error
from bosun_local.pps.inputs import InputError
from bosun_local.pps.model import ModelError

if TYPE_CHECKING:
    from bosun_local.pps.app import PPSApp

log = logging.getLogger("bosun_local.pps.drum")

UNSTRUCTURED_ROUTES = ("/predictionsUnstructured", "/predictUnstructured")


def _title(name: bytes) -> str:
    """Return a header name as DRUM's hooks see it (Flask spells them Content-Type, not content-type)."""
    return "-".join(part.capitalize() for part in name.decode("latin-1").split("-"))


async def unstructured(app: PPSApp, request: Request, deployment_id: str | None) -> Response:
    """Hand the raw body, query and headers to the model's score_unstructured() and send back what it returns."""
    if request.method != "POST":
        return Response(405, error(405, f"{request.path} takes POST").body, headers=((b"allow", b"POST"),))
    deployment = app._deployment(deployment_id)
    if isinstance(deployment, Response):
        return deployment
    model = deployment.model
    if model is None:
        return error(503, f"deployment {deployment.deployment_id} cannot serve: {deployment.error}")
    score = getattr(model, "score_unstructured", None)
    if score is None:
        return error(422, f"deployment {deployment.deployment_id} serves a structured model; POST rows to "
                          f"{'/deployments/' + deployment_id if deployment_id else ''}/predictions")
    started = time.perf_counter()
    try:
        body = await request.body(app.max_body_bytes)
        started = time.perf_counter()
        query = dict(parse_qsl(request.query.decode("latin-1"), keep_blank_values=True))
        headers = {_title(k): v.decode("latin-1") for k, v in request.headers}
        out, content_type = await asyncio.get_running_loop().run_in_executor(
            None, score, body, request.content_type, query, headers)
        response = Response(200, out, content_type.encode("latin-1"))
    except InputError as exc:
        response = error(exc.status, exc.message)
    except ModelError as exc:
        log.error("deployment %s: %s", deployment.deployment_id, exc)
        response = error(500, f"deployment {deployment.deployment_id}: {exc}")
    app._report(deployment, model, response.status, started, None, None)
    return response
