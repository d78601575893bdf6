"""`/api/v2`: the subset of DataRobot's public REST API that the `datarobot` and `datarobot-predict` clients call.

`datarobot.Client` checks `GET version/` first; `Deployment.get`/`list` read deployments; `datarobot_predict`
then posts to `<defaultPredictionServer.url>/predApi/v1.0/deployments/<id>/predictions`, i.e. traefik.
Answers use DataRobot's field names (camelCase, `{"count", "next", "previous", "data"}` pages) and its error
body (`{"message": ...}`), so the clients' own parsers and error messages work unchanged.
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from bosun_local import __version__
from bosun_local.service.routes.deps import AUTH, Ctx
from bosun_local.service.storage.base import Row

# The DataRobot API version whose routes we mirror; datarobot 3.20 expects 2.49 and only warns on an older minor.
API_VERSION = (2, 49)
PREDICTION_SERVER_ID = "bosun-local-traefik"
HEALTH_BY_STATE = {"ready": "passing", "errored": "failing", "launching": "unknown", "replacingModel": "warning"}

router = APIRouter(prefix="/api/v2", tags=["datarobot-compatible"], dependencies=AUTH)


def _message(status: int, message: str) -> JSONResponse:
    """Return DataRobot's error body, which its client quotes in ClientError."""
    return JSONResponse({"message": message}, status_code=status)


def prediction_server_url(ctx: Any, dep: Row) -> str | None:
    """Return the base URL DataRobot clients prepend to `/predApi/v1.0/...`: traefik's outfacing prefix."""
    url = dep.get("predictionUrl") or ""
    suffix = f"/deployments/{dep['id']}/predictions"
    if url.endswith(suffix):
        return url[: -len(suffix)]
    env = ctx.storage.get_environment(dep["environmentId"]) or {}
    prefix = (env.get("pluginConfig") or {}).get("outfacingPredictionURLPrefix")
    return str(prefix).rstrip("/") if prefix and not dep.get("external") else None


def deployment_doc(ctx: Any, dep: Row) -> dict[str, Any]:
    """Return a deployment as DataRobot's `GET /api/v2/deployments/{id}/` shows it."""
    package = ctx.storage.get_package(dep["packageId"]) or {}
    env = ctx.storage.get_environment(dep["environmentId"]) or {}
    doc: dict[str, Any] = {
        "id": dep["id"],
        "label": dep["name"],
        "description": dep.get("description") or None,
        "status": "active" if dep.get("desiredState") == "running" else "inactive",
        "model": {"id": dep["modelId"], "type": package.get("modelFormat") or "", "targetName":
                  package.get("targetName") or "", "targetType": _target_type(package.get("targetType")),
                  "projectId": ""},
        "modelPackage": {"id": dep["packageId"], "name": package.get("name") or "", "registeredModelId": ""},
        "predictionEnvironment": {"id": dep["environmentId"], "name": env.get("name") or "",
                                  # Never "datarobotServerless": datarobot-predict would post to /api/v2 then.
                                  "platform": env.get("platform") or "other",
                                  "isManagedByManagementAgent": not dep.get("external")},
        "serviceHealth": {"status": dep.get("healthStatus") or HEALTH_BY_STATE.get(dep.get("state", ""), "unknown")},
        "modelHealth": {"status": "unknown"},
        "accuracyHealth": {"status": "unavailable"},
        "permissions": ["CAN_VIEW", "CAN_MAKE_PREDICTIONS"],
        "importance": None,
        "predictionUsage": {"dailyRates": []},
        "tags": [],
        "createdAt": dep.get("createdAt"),
    }
    server = prediction_server_url(ctx, dep)
    if server:
        doc["defaultPredictionServer"] = {"id": PREDICTION_SERVER_ID, "url": server, "datarobot-key": ""}
    return doc


def _target_type(kind: str | None) -> str:
    return {"regression": "Regression", "binary": "Binary", "multiclass": "Multiclass"}.get(kind or "", kind or "")


def _page(request: Request, items: list[dict[str, Any]], offset: int, limit: int) -> dict[str, Any]:
    """Return DataRobot's page shape; `next` is an absolute URL, as its unpaginate() follows it verbatim."""
    chunk = items[offset: offset + limit]
    base = str(request.url.remove_query_params(["offset", "limit"]))
    sep = "&" if "?" in base else "?"
    after = offset + limit
    return {"count": len(chunk), "totalCount": len(items),
            "next": f"{base}{sep}offset={after}&limit={limit}" if after < len(items) else None,
            "previous": f"{base}{sep}offset={max(0, offset - limit)}&limit={limit}" if offset > 0 else None,
            "data": chunk}


@router.get("/version/")
def version() -> dict[str, Any]:
    """Return the API version the `datarobot` client checks before anything else."""
    major, minor = API_VERSION
    return {"major": major, "minor": minor, "versionString": f"{major}.{minor}.0",
            "releasedVersion": f"bosun-local {__version__}"}


@router.get("/deployments/")
def list_deployments(ctx: Ctx, request: Request, offset: Annotated[int, Query(ge=0)] = 0,
                     limit: Annotated[int, Query(ge=0, le=1000)] = 0, search: str | None = None) -> dict[str, Any]:
    """List live deployments in DataRobot's page shape (limit 0 = everything on one page)."""
    rows = ctx.storage.list_deployments()
    if search:
        needle = search.lower()
        rows = [r for r in rows if needle in r["name"].lower() or needle in (r.get("description") or "").lower()]
    docs = [deployment_doc(ctx, r) for r in rows]
    return _page(request, docs, offset, limit or max(len(docs), 1))


@router.get("/deployments/{deployment_id}/", response_model=None)
def get_deployment(ctx: Ctx, deployment_id: str) -> dict[str, Any] | JSONResponse:
    """Show one deployment, with the prediction server the clients post predictions to."""
    dep = ctx.storage.get_deployment(deployment_id) or ctx.storage.find_deployment_by_name(deployment_id)
    if dep is None or dep.get("desiredState") == "deleted":
        return _message(404, f"deployment {deployment_id!r} not found; list them with GET /api/v2/deployments/ "
                             "or `bosun-local deployments list`")
    return deployment_doc(ctx, dep)


@router.get("/predictionServers/")
def prediction_servers(ctx: Ctx, request: Request) -> dict[str, Any]:
    """List the prediction servers: traefik's outfacing URL of each environment that has one."""
    servers: dict[str, dict[str, Any]] = {}
    for env in ctx.storage.list_environments():
        prefix = (env.get("pluginConfig") or {}).get("outfacingPredictionURLPrefix")
        if prefix:
            url = str(prefix).rstrip("/")
            servers.setdefault(url, {"id": PREDICTION_SERVER_ID if not servers else env["id"], "url": url,
                                     "datarobot-key": ""})
    items = list(servers.values())
    return _page(request, items, 0, max(len(items), 1))


@router.post("/batchPredictions/", status_code=501, response_model=None)
def batch_predictions() -> JSONResponse:
    """Refuse batch prediction jobs (`Deployment.predict_batch`) by name, with the real-time alternative."""
    return _message(501, "batch prediction jobs (POST /api/v2/batchPredictions/, the datarobot client's "
                         "Deployment.predict_batch) are not available in bosun-local; score the rows in real time "
                         "instead: datarobot_predict.deployment.predict(deployment, frame) posts them to the "
                         "deployment's /predApi/v1.0/deployments/<id>/predictions route")
