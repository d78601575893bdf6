"""The PPS ASGI app: route requests to a deployment, score, answer, and hand the request to the reporter."""
from __future__ import annotations

import asyncio
import logging
import os
import platform
import time
from time import perf_counter_ns
from typing import Any
from urllib.parse import parse_qsl

from bosun_local import __version__
from bosun_local.pps import datarobot_routes, drum_routes, outputs
from bosun_local.pps.http import (
    ClientGone,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    error,
    json_response,
    send_response,
)
from bosun_local.pps.inputs import Frame, InputError, parse_form
from bosun_local.pps.memory import MemoryBudget
from bosun_local.pps.metrics import METRICS_PATH, PPSMetrics
from bosun_local.pps.model import LoadedModel, ModelError, Scored
from bosun_local.pps.openapi import openapi
from bosun_local.pps.registry import Deployment, MultiRegistry, SingleRegistry
from bosun_local.pps.reporting import Reporter
from bosun_local.pps.v2_routes import V2Routes
from bosun_local.pps.v2_stats import InferenceStats

log = logging.getLogger("bosun_local.pps")

PREDICTION_ROUTES = {"/predictions": ("POST",), "/predict": ("GET", "POST")}
STATUS_ROUTES = ("/ping", "/health", "/info")
OPENAPI_PATH = "/openapi.json"
FORM_TYPES = ("", "application/x-www-form-urlencoded")


def versions() -> dict[str, str]:
    """Return the versions /info reports."""
    found = {"bosunLocal": __version__, "python": platform.python_version()}
    for module in ("sklearn", "numpy", "pandas"):
        try:
            found[module] = __import__(module).__version__
        except ImportError:
            continue
    return found


class PPSApp:
    """ASGI app serving one registry (single or multi) and reporting to an optional Reporter."""

    def __init__(self, registry: SingleRegistry | MultiRegistry, reporter: Reporter | None = None,
                 max_body_bytes: int = 50 * 1024 * 1024, report_timeout_sec: float = 10.0,
                 metrics: bool = True, memory: MemoryBudget | None = None) -> None:
        self.registry = registry
        self.reporter = reporter
        self.max_body_bytes = max_body_bytes
        self.memory = memory or MemoryBudget(None)
        self.report_timeout_sec = report_timeout_sec
        self._versions = versions()
        self._host = platform.node()
        self.stats = InferenceStats()
        self.v2 = V2Routes(self)
        self.metrics = PPSMetrics(self) if metrics else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.get_running_loop().run_in_executor(None, self.registry.start)
                    if self.reporter is not None:
                        self.reporter.start(asyncio.get_running_loop())
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # uvicorn gets here after in-flight requests finished: flush what they reported.
                self.registry.stop()
                if self.reporter is not None:
                    await asyncio.get_running_loop().run_in_executor(None, self.reporter.shutdown,
                                                                     self.report_timeout_sec)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = self.metrics
        if metrics is None:
            await self._answer(scope, receive, send)
            return
        started = perf_counter_ns()
        metrics.in_flight += 1
        try:
            status = await self._answer(scope, receive, send)
        finally:
            metrics.in_flight -= 1
        if status:  # 0: the client left before its body arrived, nothing was answered
            metrics.record(scope["path"], status, perf_counter_ns() - started)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Route and send one response; return its status (0 when the client went away first)."""
        request = Request.from_scope(scope, receive)
        try:
            response = await self._route(request)
        except ClientGone:
            return 0
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            response = error(500, "internal server error; the server log has the details")
        await send_response(send, response)
        return response.status

    async def _route(self, request: Request) -> Response:
        path = request.path
        if path.startswith(datarobot_routes.PREDAPI_PREFIX):
            return await datarobot_routes.route(self, request)
        deployment_id: str | None = None
        if path.startswith("/deployments/"):
            deployment_id, _, rest = path[len("/deployments/"):].partition("/")
            path = "/" + rest
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        if path == "/status" and deployment_id is None and request.method == "GET":
            # Compact load status of every deployment (the docker plugin polls a shared pool's replicas).
            return json_response(200, self.registry.status())
        if path.startswith("/v2"):
            return await self.v2.handle(request, path, deployment_id)
        if path == METRICS_PATH and self.metrics is not None and request.method in ("GET", "HEAD"):
            return self._metrics(deployment_id)
        if path == OPENAPI_PATH and request.method in ("GET", "HEAD"):
            return self._openapi(deployment_id)
        if path in drum_routes.UNSTRUCTURED_ROUTES:
            return await drum_routes.unstructured(self, request, deployment_id)
        methods = PREDICTION_ROUTES.get(path) or (("GET",) if path in STATUS_ROUTES else None)
        if methods is None:
            return error(404, f"no route {request.path}; routes: POST /predictions, GET|POST /predict, "
                              "POST /v2/models/<name>/infer, GET /ping, /health, /info, /metrics")
        if request.method not in methods and not (request.method == "HEAD" and "GET" in methods):
            return Response(405, outputs.dumps({"message": f"{request.path} takes {' or '.join(methods)}"}),
                            headers=((b"allow", ", ".join(methods).encode()),))
        if deployment_id is None and path in STATUS_ROUTES:
            return self._server_status(path)
        deployment = self._deployment(deployment_id)
        if isinstance(deployment, Response):
            return deployment
        if path == "/ping":
            return json_response(200, {"message": "OK"})
        if path == "/health":
            return self._deployment_health(deployment)
        if path == "/info":
            # host: the container (Docker's hostname is its short id); the docker plugin tells replicas apart by it.
            return json_response(200, {**deployment.describe(), "versions": self._versions, "host": self._host})
        if deployment.model is None:
            return error(503, f"deployment {deployment.deployment_id} cannot serve: {deployment.error}")
        if path == "/predictions":
            return await datarobot_routes.predictions(self, request, deployment, deployment.model, predapi=False)
        return await self._predict(request, deployment, deployment.model)

    def _openapi(self, deployment_id: str | None) -> Response:
        """Answer `/openapi.json`: the routes, with the served model's columns as the body schema."""
        deployment = self._deployment(deployment_id)
        if isinstance(deployment, Response):
            return deployment
        if deployment.model is None:
            return error(503, f"deployment {deployment.deployment_id} cannot serve: {deployment.error}")
        name = deployment.deployment_id or deployment.model.spec.name or deployment.model_id or "model"
        return json_response(200, openapi(deployment.model.schema, name))

    def _deployment(self, deployment_id: str | None, v2: bool = False) -> Deployment | Response:
        """Return the addressed deployment, or a 404 that says which ones exist."""
        registry = self.registry
        if isinstance(registry, SingleRegistry):
            if deployment_id is None or deployment_id == registry.deployment.deployment_id:
                return registry.deployment
            own = registry.deployment.deployment_id
            where = f"this server serves deployment {own}" if own else \
                "this server has no deployment id (MLOPS_DEPLOYMENT_ID); use the routes without /deployments/<id>"
            return error(404, f"deployment {deployment_id} is not served here: {where}", v2)
        if deployment_id is None:
            return error(404, "this server serves several deployments: use /deployments/<id>/predictions "
                              f"(deployments: {self._known()})", v2)
        deployment = registry.get(deployment_id)
        if deployment is None:
            return error(404, f"deployment {deployment_id} is not served here (deployments: {self._known()})", v2)
        return deployment

    def _metrics(self, deployment_id: str | None) -> Response:
        """Answer /metrics (every deployment) or /deployments/<id>/metrics (that one's figures)."""
        assert self.metrics is not None
        if deployment_id is not None:
            found = self._deployment(deployment_id)
            if isinstance(found, Response):
                return found
        return self.metrics.response(deployment_id)

    def _known(self) -> str:
        ids = [d.deployment_id or "" for d in self.registry.all()]
        return ", ".join(ids[:20]) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "") if ids else "none yet"

    def _server_status(self, path: str) -> Response:
        if path == "/ping":
            return json_response(200, {"message": "OK"})
        if path == "/health":
            if isinstance(self.registry, SingleRegistry):
                return self._deployment_health(self.registry.deployment)
            if not self.registry.ready:
                return json_response(503, {"status": "starting", "message": "first scan of the base dir running"})
            return json_response(200, {"status": "ok", "deployments": len(self.registry.all())})
        doc: dict[str, Any] = {"mode": "multi" if self.registry.multi else "single", "pid": os.getpid(),
                               "versions": self._versions,
                               "monitoring": self.reporter.counters() if self.reporter else {"enabled": False}}
        if isinstance(self.registry, SingleRegistry):
            doc.update(self.registry.deployment.describe())
        else:
            doc["baseDir"] = str(self.registry.base_dir)
            doc["deployments"] = [d.describe() for d in self.registry.all()]
        return json_response(200, doc)

    @staticmethod
    def _deployment_health(deployment: Deployment) -> Response:
        if deployment.model is None:
            return json_response(503, {"status": "error", "message": deployment.error})
        return json_response(200, {"status": "ok"})

    async def _score(self, model: LoadedModel, frame: Frame) -> Scored:
        started = time.perf_counter_ns()
        if model.inline(frame.rows):
            scored = model.score(frame)
        else:
            scored = await asyncio.get_running_loop().run_in_executor(None, model.score, frame)
        self.stats.infer(model, frame.rows, time.perf_counter_ns() - started)
        return scored

    async def _predict(self, request: Request, deployment: Deployment, model: LoadedModel) -> Response:
        """Answer `/predict`: one row from form fields (the workshop app's route)."""
        started = time.perf_counter()
        frame: Frame | None = None
        scored: Scored | None = None
        try:
            body = await request.body(self.max_body_bytes)
            started = time.perf_counter()  # execution time: from the whole body being here to the answer
            frame = self._form_frame(request, body, model)
            scored = await self._score(model, frame)
            response = Response(200, outputs.form_json(model, scored))
        except InputError as exc:
            response = error(exc.status, exc.message)
        except ModelError as exc:
            log.error("deployment %s: %s", deployment.deployment_id, exc)
            response = error(500, f"deployment {deployment.deployment_id}: {exc}")
        self._report(deployment, model, response.status, started, frame, scored)
        return response

    def _report(self, deployment: Deployment, model: LoadedModel, status: int, started: float,
                frame: Frame | None, scored: Scored | None) -> None:
        elapsed = time.perf_counter() - started
        self.stats.phase(model, "success" if status < 400 else "fail", int(elapsed * 1e9))
        reporter = self.reporter
        if reporter is None or deployment.deployment_id is None or deployment.model_id is None:
            return
        if status < 400 and frame is not None and scored is not None:
            # A classifier's probability array, not its rows as lists: the reporter stacks a batch's arrays at once.
            reporter.submit(deployment.deployment_id, deployment.model_id, frame.values.shape[0], elapsed * 1000.0,
                            False, False, frame, scored.predictions if scored.probabilities is None
                            else scored.probabilities, model.class_names or None)
        else:  # no predictions were made; the request still counts, as an error
            reporter.submit(deployment.deployment_id, deployment.model_id, 0, elapsed * 1000.0, 400 <= status < 500,
                            status >= 500)

    @staticmethod
    def _form_frame(request: Request, body: bytes, model: LoadedModel) -> Frame:
        if body.strip() and request.media_type not in FORM_TYPES:
            raise InputError(415, f"/predict takes form fields (application/x-www-form-urlencoded), not "
                                  f"{request.media_type}; POST JSON or CSV to /predictions")
        try:
            text = request.query.decode() + ("&" if request.query and body else "") + body.decode()
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=10000)
        except UnicodeDecodeError:
            raise InputError(400, "form fields are not UTF-8 text") from None
        except ValueError as exc:
            raise InputError(400, f"malformed form fields: {exc}") from None
        return parse_form(pairs, model.schema)
