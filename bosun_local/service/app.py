"""The FastAPI application: routers per resource, auth, error shapes, background workers."""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bosun_local import __version__
from bosun_local.config import Config
from bosun_local.errors import BosunError
from bosun_local.service.api_errors import out_of_space
from bosun_local.service.auth import OPEN_PATHS, BearerAuthMiddleware, load_or_create_token
from bosun_local.service.context import ServiceContext
from bosun_local.service.metrics import RequestMetricsMiddleware
from bosun_local.service.storage import open_storage
from bosun_local.service.tokens import TokenStore

log = logging.getLogger(__name__)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts) + " (see /openapi.json for the expected shape)"


def create_app(config: Config) -> FastAPI:
    """Build the service app for a data dir (creating its database, token and default environment)."""
    from bosun_local.service import background, bootstrap
    from bosun_local.service.routes import ROUTERS

    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.data_dir.chmod(0o700)  # token, database and secrets live here: closed to other users
    storage = open_storage(config.data_dir, config["databaseUrl"], int(config["associationIndexMaxIds"]))
    storage_place = (f"the data dir {config.data_dir}" if not config["databaseUrl"]
                     else f"the data dir {config.data_dir} or the PostgreSQL server of databaseUrl")
    token = load_or_create_token(config.token_file)
    ctx = ServiceContext(config=config, storage=storage, token=token)
    bootstrap.ensure_default_environment(ctx)
    bootstrap.note_open_claims(ctx)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers = background.start(ctx)
        try:
            yield
        finally:
            workers.stop()
            storage.close()

    app = FastAPI(title="bosun-local MLOps service", version=__version__, lifespan=lifespan,
                  description="Control plane of bosun-local: model packages, prediction environments, deployments, "
                              "the action queue, events, notification rules and monitoring figures.")
    app.state.ctx = ctx
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}: see /openapi.json for the API"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        full = out_of_space(exc, storage_place)
        if full is not None:
            log.error("%s %s: %s", request.method, request.url.path, full.message)
            return JSONResponse({"detail": str(full)}, status_code=full.status_code)
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": f"internal error in {request.method} {request.url.path}: "
                                       f"{type(exc).__name__}: {exc}; fix: see the service log"}, status_code=500)

    @app.exception_handler(BosunError)
    async def on_bosun(request: Request, exc: BosunError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=getattr(exc, "status_code", 400))

    open_paths = OPEN_PATHS if config["metricsRequireToken"] else OPEN_PATHS | {"/metrics"}
    app.add_middleware(BearerAuthMiddleware, token=token, open_paths=open_paths, store=TokenStore(config.data_dir))
    # Outermost: a refused request is counted too (as a 401 of route "other").
    app.add_middleware(RequestMetricsMiddleware, metrics=ctx.metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict:
    """Return the spec with the real shape of 422 answers: `{"detail": "<message>"}`, as every error."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = spec.get("components", {}).get("schemas", {})
        schemas.pop("ValidationError", None)
        schemas["HTTPValidationError"] = {"title": "ErrorOut", "type": "object", "required": ["detail"],
                                          "properties": {"detail": {"type": "string", "title": "Detail"}}}
        app.openapi_schema = spec
    return app.openapi_schema
