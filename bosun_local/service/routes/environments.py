"""`/api/v1/environments`: prediction environments (platform + plugin config + optional external command)."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response

from bosun_local.service.api_errors import ApiError, conflict
from bosun_local.service.context import ServiceContext
from bosun_local.service.deployments import resolve_environment
from bosun_local.service.events import record_event
from bosun_local.service.models import EnvironmentIn, EnvironmentOut, EnvironmentPatch
from bosun_local.service.routes.deps import AUTH, Ctx, errors
from bosun_local.service.storage import StorageConflict
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import new_id, now_iso

router = APIRouter(prefix="/api/v1/environments", tags=["environments"], dependencies=AUTH)
NOT_FOUND = errors(e404="no such environment")


def _only_admin_runs_commands(request: Request, command: object) -> None:
    """Refuse a plugin `command` from any token but admin's: the agent runs it with the engine in reach."""
    scope = getattr(request.state, "tokenScope", "admin")
    if command and scope != "admin":
        raise ApiError(403, f"a token of scope {scope} may not set an environment's command (the management agent "
                            "runs it as a plugin, with the engine in reach)",
                       "ask an operator with an admin token (the data dir's `token` file) to set it")


def _out(ctx: ServiceContext, env: Row) -> Row:
    return {**env, "isDefault": env["id"] == ctx.storage.get_setting("defaultEnvironmentId")}


@router.get("", response_model=list[EnvironmentOut])
def list_environments(ctx: Ctx) -> list[Row]:
    """List prediction environments."""
    return [_out(ctx, env) for env in ctx.storage.list_environments()]


@router.post("", response_model=EnvironmentOut, status_code=201,
             responses=errors(e403="a command needs an admin token", e409="name taken"))
def create_environment(ctx: Ctx, body: EnvironmentIn, request: Request) -> Row:
    """Create a prediction environment (with a plugin command: admin tokens only)."""
    _only_admin_runs_commands(request, body.command)
    now = now_iso()
    env = {"id": new_id(), **body.model_dump(), "name": body.name.strip() or body.name, "createdAt": now,
           "updatedAt": now}
    try:
        ctx.storage.insert_environment(env)
    except StorageConflict as exc:
        raise conflict(f"an environment named {env['name']!r} already exists", "pick another name") from exc
    record_event(ctx, "environment_created", "info", f"created {env['platform']} environment {env['name']}",
                 environment_id=env["id"])
    return _out(ctx, env)


@router.get("/{ref}", response_model=EnvironmentOut, responses=NOT_FOUND)
def get_environment(ctx: Ctx, ref: str) -> Row:
    """Show an environment by id or name."""
    return _out(ctx, resolve_environment(ctx, ref))


@router.patch("/{ref}", response_model=EnvironmentOut, responses=NOT_FOUND)
def update_environment(ctx: Ctx, ref: str, body: EnvironmentPatch, request: Request) -> Row:
    """Change an environment's description, plugin config or command (used by later actions)."""
    _only_admin_runs_commands(request, body.command)
    env = resolve_environment(ctx, ref)
    # null clears the command; for description and pluginConfig it means "leave as is".
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k == "command"}
    env = ctx.storage.update_environment(env["id"], changes)
    record_event(ctx, "environment_updated", "info", f"updated environment {env['name']}: {', '.join(changes)}",
                 environment_id=env["id"])
    return _out(ctx, env)


@router.delete("/{ref}", status_code=204, response_class=Response,
               responses=errors(e404="no such environment", e409="in use or default"))
def delete_environment(ctx: Ctx, ref: str) -> Response:
    """Delete an environment that no live deployment uses (the default one stays)."""
    env = resolve_environment(ctx, ref)
    if env["id"] == ctx.storage.get_setting("defaultEnvironmentId"):
        raise conflict(f"environment {env['name']} is the default environment", "keep it; create others beside it")
    users = ctx.storage.list_deployments(environment_id=env["id"])
    if users:
        raise conflict(f"environment {env['name']} is used by {len(users)} deployment(s): "
                       f"{', '.join(d['name'] for d in users[:5])}", "delete those deployments first")
    ctx.storage.delete_environment(env["id"])
    record_event(ctx, "environment_deleted", "info", f"deleted environment {env['name']}", environment_id=env["id"])
    return Response(status_code=204)
