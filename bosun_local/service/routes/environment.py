"""`/api/v1/environment`: health of the environment stack's components (traefik, rabbitmq, ...) as agents see it."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import Field

from bosun_local.service.events import record_event
from bosun_local.service.models import EventStatus, Open, Strict
from bosun_local.service.routes.deps import AUTH, Ctx
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import iso, now_iso, utcnow

router = APIRouter(prefix="/api/v1/environment", tags=["environment"], dependencies=AUTH)
SETTING = "environmentComponents"
COMPONENT = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class ComponentIn(Strict):
    status: EventStatus
    detail: str = Field(default="", max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict)


class ComponentOut(Open):
    status: str
    detail: str
    updatedAt: str
    reportedBy: str | None = None


def _stale_after(ctx: Ctx) -> str:
    return iso(utcnow() - timedelta(seconds=3 * ctx.limits.agent_offline_sec))


@router.get("", response_model=dict[str, ComponentOut])
def get_environment_health(ctx: Ctx) -> Row:
    """Return each reported component's last status; a report older than 3 agent-offline periods reads unknown."""
    components = ctx.storage.get_setting(SETTING) or {}
    stale = _stale_after(ctx)
    return {name: ({**entry, "status": "unknown", "detail": f"not reported since {entry['updatedAt']}"}
                   if entry["updatedAt"] < stale else entry) for name, entry in components.items()}


@router.put("/{component}", response_model=ComponentOut)
def report_component(ctx: Ctx, component: Annotated[str, Path(pattern=COMPONENT.pattern)], body: ComponentIn,
                     agentId: str | None = None) -> Row:
    """Report a component's status (e.g. traefik from pe_status); an event is recorded when the status changes."""
    with ctx.storage.transaction():
        components = ctx.storage.get_setting(SETTING) or {}
        previous = components.get(component)
        entry = {**body.data, "status": body.status, "detail": body.detail, "updatedAt": now_iso(),
                 "reportedBy": agentId}
        components[component] = entry
        ctx.storage.put_setting(SETTING, components)
    if previous is None or previous["status"] != body.status:
        was = f" (was {previous['status']})" if previous else ""
        record_event(ctx, "component_status_changed", body.status,
                     f"{component} is {body.status}{was}{': ' + body.detail if body.detail else ''}",
                     data={"component": component, "previous": previous["status"] if previous else None})
    return entry
