"""Open Inference Protocol (V2) REST routes, with Triton's binary data, configuration, statistics and repository
extensions; model versions are the deployment's model ids."""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from bosun_local import __version__
from bosun_local.pps.http import JSON, Request, Response, error, json_response
from bosun_local.pps.inputs import Frame, InputError
from bosun_local.pps.model import LoadedModel, ModelError, Scored
from bosun_local.pps.registry import Deployment, MultiRegistry
from bosun_local.pps.v2_codec import HEADER_LENGTH, decompress, parse_request, render_response
from bosun_local.pps.v2_infer import build_outputs, frame_from_tensors, output_specs

if TYPE_CHECKING:
    from bosun_local.pps.app import PPSApp

log = logging.getLogger("bosun_local.pps.v2")

SERVER_NAME = "bosun-local-pps"
EXTENSIONS = ["binary_tensor_data", "classification", "model_configuration", "model_repository", "statistics"]
OCTETS = b"application/octet-stream"
ROUTES = ("GET /v2, /v2/health/live|ready, /v2/models/<name>[/versions/<version>][/ready|/config|/stats], "
          "POST /v2/models/<name>[/versions/<version>]/infer, GET /v2/models/stats, POST /v2/repository/index")
TRITON_TYPES = {"FP64": "TYPE_FP64", "BYTES": "TYPE_STRING"}


def empty(status: int) -> Response:
    """Return a health answer: the status says it all, the body is empty (the protocol says so)."""
    return Response(status, b"", JSON)


def _method(request: Request, wanted: str) -> Response | None:
    if request.method == wanted or (wanted == "GET" and request.method == "HEAD"):
        return None
    return Response(405, error(405, f"{request.path} takes {wanted}", v2=True).body,
                    headers=((b"allow", wanted.encode()),))


class V2Routes:
    """Answer /v2/... for a PPS app: resolve model name and version to a deployment and serve it."""

    def __init__(self, app: PPSApp) -> None:
        self.app = app

    async def handle(self, request: Request, path: str, deployment_id: str | None) -> Response:
        """Route one V2 request; `path` starts with /v2, after any /deployments/<id> prefix."""
        parts = path.split("/")[2:]
        if parts in ([], ["health", "live"], ["health", "ready"]):
            return _method(request, "GET") or self._server(parts)
        if parts == ["repository", "index"]:
            return _method(request, "POST") or await self._index(request, deployment_id)
        if parts[:1] == ["repository"] and len(parts) == 4 and parts[3] in ("load", "unload"):
            return error(400, f"model control is not available: deployments are started, replaced and stopped by "
                              f"bosun-local (bosun-local deploy / deployments replace-model), not by {parts[3]}",
                         v2=True)
        if parts == ["models", "stats"]:
            return _method(request, "GET") or self._stats(None, None, deployment_id)
        if len(parts) < 2 or parts[0] != "models":
            return error(404, f"no route {request.path}; V2 routes: {ROUTES}", v2=True)
        name, rest = parts[1], parts[2:]
        version: str | None = None
        if rest[:1] == ["versions"]:
            if len(rest) < 2 or not rest[1]:
                return error(404, f"no route {request.path}: give a version, /v2/models/{name}/versions/<version>",
                             v2=True)
            version, rest = rest[1], rest[2:]
        action = rest[0] if rest else "metadata"
        if len(rest) > 1 or action not in ("metadata", "ready", "infer", "config", "stats"):
            return error(404, f"no route {request.path}; V2 routes: {ROUTES}", v2=True)
        if action == "stats":
            return _method(request, "GET") or self._stats(name, version, deployment_id)
        wrong = _method(request, "POST" if action == "infer" else "GET")
        if wrong is not None:
            return wrong
        deployment = self.resolve(name, version, deployment_id)
        if isinstance(deployment, Response):
            return empty(404) if action == "ready" else deployment
        model = deployment.model
        if action == "ready":
            return empty(200 if model is not None else 400)
        if model is None:
            return error(503, f"model {name} cannot serve: {deployment.error}", v2=True)
        if action == "metadata":
            return json_response(200, metadata(name, deployment, model))
        if action == "config":
            return json_response(200, config(name, deployment, model))
        return await self._infer(request, name, deployment, model)

    def _server(self, parts: list[str]) -> Response:
        if not parts:
            return json_response(200, {"name": SERVER_NAME, "version": __version__, "extensions": EXTENSIONS})
        if parts[1] == "live":
            return empty(200)
        return empty(200 if self.app.registry.ready else 400)

    def resolve(self, name: str, version: str | None, deployment_id: str | None) -> Deployment | Response:
        """Return the deployment a model name (and version, a model id) addresses, or a 404 naming what exists."""
        app = self.app
        if deployment_id is None and isinstance(app.registry, MultiRegistry):
            deployment = app._deployment(name, v2=True)
        else:
            deployment = app._deployment(deployment_id, v2=True)
            if isinstance(deployment, Response):
                return deployment
            names = {deployment.deployment_id, deployment.model_id}
            if deployment.model is not None:
                names.add(deployment.model.spec.name)
            names.discard(None)
            if names and name not in names:
                known = ", ".join(sorted(n for n in names if n))
                return error(404, f"model {name!r} is not served here; use one of: {known}", v2=True)
        if isinstance(deployment, Response) or version is None:
            return deployment
        if version != deployment.model_id:
            served = deployment.model_id or "none (no MLOPS_MODEL_ID)"
            return error(404, f"model {name!r} has no version {version!r}; the version served is {served}", v2=True)
        return deployment

    def _served(self, deployment_id: str | None) -> list[tuple[str, Deployment]]:
        """Return (V2 name, deployment) for every deployment this request may see."""
        registry = self.app.registry
        if deployment_id is not None:
            found = self.app._deployment(deployment_id, v2=True)
            deployments = [] if isinstance(found, Response) else [found]
        else:
            deployments = registry.all()
        out = []
        for dep in deployments:
            spec_name = dep.model.spec.name if dep.model is not None else None
            out.append((dep.deployment_id or spec_name or dep.model_id or "model", dep))
        return out

    async def _index(self, request: Request, deployment_id: str | None) -> Response:
        body = await request.body(1024 * 1024)
        ready_only = False
        if body.strip():
            from bosun_local.pps.inputs import load_json

            try:
                doc = load_json(body)
            except InputError as exc:
                return error(400, exc.message, v2=True)
            ready_only = isinstance(doc, dict) and bool(doc.get("ready"))
        index: list[dict[str, Any]] = []
        for name, dep in self._served(deployment_id):
            if ready_only and dep.model is None:
                continue
            entry: dict[str, Any] = {"name": name, "version": dep.model_id or "",
                                     "state": "READY" if dep.model is not None else "UNAVAILABLE"}
            entry["reason"] = dep.error or ""
            index.append(entry)
        return json_response(200, index)

    def _stats(self, name: str | None, version: str | None, deployment_id: str | None) -> Response:
        if name is None:
            served = [(n, d) for n, d in self._served(deployment_id) if d.model is not None]
        else:
            found = self.resolve(name, version, deployment_id)
            if isinstance(found, Response):
                return found
            if found.model is None:
                return error(503, f"model {name} cannot serve: {found.error}", v2=True)
            served = [(name, found)]
        stats = self.app.stats
        return json_response(200, {"model_stats": [stats.document(n, d.model_id, d.model) for n, d in served
                                                   if d.model is not None]})

    async def _infer(self, request: Request, name: str, deployment: Deployment, model: LoadedModel) -> Response:
        app = self.app
        started = time.perf_counter()
        frame: Frame | None = None
        scored: Scored | None = None
        try:
            body = await request.body(app.max_body_bytes)
            started = time.perf_counter()
            body = decompress(body, request.header(b"content-encoding"), app.max_body_bytes)
            parsed = parse_request(body, request.header(HEADER_LENGTH))
            if model.unstructured:
                raise InputError(400, f"model {name} is unstructured: it takes raw bodies on "
                                      "/predictionsUnstructured, not V2 tensors")
            frame = frame_from_tensors(parsed.inputs, model.schema)
            parsed_at = time.perf_counter()
            app.stats.phase(model, "compute_input", int((parsed_at - started) * 1e9), frame.rows)
            scored = await app._score(model, frame)
            scored_at = time.perf_counter()
            outputs = build_outputs(model, scored, name, parsed.outputs, parsed.binary_output)
            body_out, header_length = render_response(name, deployment.model_id, parsed.id, outputs)
            app.stats.phase(model, "compute_output", int((time.perf_counter() - scored_at) * 1e9), frame.rows)
            if header_length is None:
                response = Response(200, body_out)
            else:
                response = Response(200, body_out, OCTETS, ((HEADER_LENGTH, str(header_length).encode()),))
        except InputError as exc:
            # The protocol (and its generated clients) say 400 for every request the client must fix.
            response = error(400 if exc.status == 422 else exc.status, exc.message, v2=True)
        except ModelError as exc:
            log.error("deployment %s: %s", deployment.deployment_id, exc)
            response = error(500, f"model {name}: {exc}", v2=True)
        app._report(deployment, model, response.status, started, frame, scored)
        return response


def metadata(name: str, deployment: Deployment, model: LoadedModel) -> dict[str, Any]:
    """Return V2 model metadata: inputs per feature and the outputs infer returns."""
    inputs = [{"name": f.name, "datatype": "FP64" if f.type == "numeric" else "BYTES", "shape": [-1]}
              for f in model.schema.features]
    outputs = [{"name": n, "datatype": t, "shape": s} for n, t, s in output_specs(model)]
    return {"name": name, "versions": [deployment.model_id] if deployment.model_id else [],
            "platform": f"bosun-local-{model.kind}", "inputs": inputs, "outputs": outputs}


def config(name: str, deployment: Deployment, model: LoadedModel) -> dict[str, Any]:
    """Return the model's configuration in the shape of Triton's model configuration extension."""
    inputs = [{"name": f.name, "data_type": TRITON_TYPES["FP64" if f.type == "numeric" else "BYTES"],
               "format": "FORMAT_NONE", "dims": [-1], "optional": False} for f in model.schema.features]
    outputs = [{"name": n, "data_type": TRITON_TYPES[t], "dims": s,
                "label_filename": "", "is_shape_tensor": False} for n, t, s in output_specs(model)]
    versions = [deployment.model_id] if deployment.model_id else []
    return {
        "name": name, "platform": f"bosun-local-{model.kind}", "backend": "bosun-local-pps",
        "version_policy": {"specific": {"versions": versions}}, "max_batch_size": 0,
        "input": inputs, "output": outputs,
        "instance_group": [{"name": name, "kind": "KIND_CPU", "count": 1}],
        "default_model_filename": model.spec.model_file,
        "parameters": {k: {"string_value": str(v)} for k, v in (
            ("target_name", model.spec.target_name), ("target_type", model.spec.target_type),
            ("class_names", ",".join(model.class_names)), ("deployment_id", deployment.deployment_id or ""))},
    }
