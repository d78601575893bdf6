"""`/api/v1/agents`: heartbeats of management and monitoring agents."""
from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from bosun_local.service.context import ServiceContext
from bosun_local.service.events import record_event
from bosun_local.service.models import AgentOut, HeartbeatIn
from bosun_local.service.routes.deps import AUTH, Ctx
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import iso, now_iso, parse_time, utcnow

router = APIRouter(prefix="/api/v1/agents", tags=["agents"], dependencies=AUTH)


def _online(ctx: ServiceContext, agent: Row) -> Row:
    cutoff = iso(utcnow() - timedelta(seconds=ctx.limits.agent_offline_sec))
    return {**agent, "online": agent["lastSeen"] >= cutoff}


@router.post("/heartbeat", response_model=AgentOut)
def heartbeat(ctx: Ctx, body: HeartbeatIn) -> Row:
    """Record that an agent is alive; an event marks its first heartbeat and its return after silence."""
    now = now_iso()
    agent = {"agentId": body.agentId, "kind": body.kind, "lastSeen": now, "firstSeen": now, "data": body.data}
    previous = ctx.storage.upsert_agent(agent)
    gone = previous is not None and (parse_time(now) - parse_time(previous["lastSeen"])).total_seconds() \
        > ctx.limits.agent_offline_sec
    if previous is None or gone:
        what = "is back after a silence" if gone else "started reporting"
        record_event(ctx, "agent_heartbeat", "info", f"{body.kind} agent {body.agentId} {what}",
                     data={"agentId": body.agentId, "kind": body.kind, **body.data})
    return _online(ctx, agent)


@router.get("", response_model=list[AgentOut])
def list_agents(ctx: Ctx) -> list[Row]:
    """List agents with their last heartbeat and whether they are online."""
    return [_online(ctx, agent) for agent in ctx.storage.list_agents()]
