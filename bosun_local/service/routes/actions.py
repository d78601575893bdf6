"""`/api/v1/actions`: the durable queue the management agent claims work from."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from bosun_local.service import action_queue as actions
from bosun_local.service.long_poll import long_poll
from bosun_local.service.models import ActionOut, ClaimIn, CompleteIn, LeaseIn, ReleaseIn
from bosun_local.service.routes.deps import AUTH, Ctx, errors
from bosun_local.service.storage.base import Row

router = APIRouter(prefix="/api/v1/actions", tags=["actions"], dependencies=AUTH)
HELD = errors(e404="no such action", e409="not claimed by this agent")
ActionStatus = Query(description="pending, claimed, done or failed (repeatable)")


@router.get("", response_model=list[ActionOut])
def list_actions(ctx: Ctx, deploymentId: str | None = None, status: Annotated[list[str] | None, ActionStatus] = None,
                 limit: Annotated[int, Query(ge=1, le=10000)] = 200) -> list[Row]:
    """List actions, newest first."""
    return ctx.storage.list_actions(deploymentId, tuple(status or ()), limit)


@router.post("/claim", response_model=ActionOut,
             responses={204: {"description": "nothing to claim"}, **errors(e404="no such environment")})
async def claim(ctx: Ctx, body: ClaimIn, request: Request) -> Row | Response:
    """Claim the next runnable action with a lease (only the oldest unfinished action of a deployment runs)."""
    action = await long_poll(ctx.changes, lambda: actions.claim(ctx, body.agentId, body.leaseSec,
                                                                 body.environmentId),
                             body.waitSec, request.is_disconnected)
    return action if action is not None else Response(status_code=204)


@router.post("/release", response_model=list[ActionOut])
def release(ctx: Ctx, body: ReleaseIn) -> list[Row]:
    """End the leases an agent id holds (it restarted: what it held is not running) so they are claimed at once."""
    return actions.release(ctx, body.agentId)


@router.get("/{action_id}", response_model=ActionOut, responses=errors(e404="no such action"))
def get_action(ctx: Ctx, action_id: str) -> Row:
    """Show an action."""
    return actions.get_action(ctx, action_id)


@router.post("/{action_id}/renew", response_model=ActionOut, responses=HELD)
def renew(ctx: Ctx, action_id: str, body: LeaseIn) -> Row:
    """Extend the lease of a claimed action."""
    return actions.renew(ctx, action_id, body.agentId, body.leaseSec)


@router.post("/{action_id}/complete", response_model=ActionOut, responses=HELD)
def complete(ctx: Ctx, action_id: str, body: CompleteIn) -> Row:
    """Finish a claimed action with the plugin's ActionStatusInfo."""
    return actions.complete(ctx, action_id, body.agentId, body.statusInfo.model_dump(exclude_none=False))
