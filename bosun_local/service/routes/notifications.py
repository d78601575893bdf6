"""`/api/v1/notifications`: webhook rules (Slack-compatible body) with filters on type, status and deployment."""
from __future__ import annotations

from fastapi import APIRouter, Response

from bosun_local.service.api_errors import not_found
from bosun_local.service.models import NotificationIn, NotificationOut
from bosun_local.service.routes.deps import AUTH, Ctx, errors
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import new_id, now_iso

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"], dependencies=AUTH)
NOT_FOUND = errors(e404="no such rule")


@router.get("", response_model=list[NotificationOut])
def list_rules(ctx: Ctx) -> list[Row]:
    """List notification rules."""
    return ctx.storage.list_rules()


@router.post("", response_model=NotificationOut, status_code=201)
def create_rule(ctx: Ctx, body: NotificationIn) -> Row:
    """Create a webhook rule; empty filters match every event."""
    rule = {"id": new_id(), **body.model_dump(), "createdAt": now_iso()}
    ctx.storage.insert_rule(rule)
    return rule


@router.get("/{rule_id}", response_model=NotificationOut, responses=NOT_FOUND)
def get_rule(ctx: Ctx, rule_id: str) -> Row:
    """Show a notification rule."""
    rule = ctx.storage.get_rule(rule_id)
    if rule is None:
        raise not_found("notification rule", rule_id, "notifications list")
    return rule


@router.delete("/{rule_id}", status_code=204, response_class=Response, responses=NOT_FOUND)
def delete_rule(ctx: Ctx, rule_id: str) -> Response:
    """Delete a notification rule and its undelivered webhooks."""
    if ctx.storage.get_rule(rule_id) is None:
        raise not_found("notification rule", rule_id, "notifications list")
    ctx.storage.delete_rule(rule_id)
    return Response(status_code=204)
