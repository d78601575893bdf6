"""`/api/v1/agents`: agents' heartbeats, and the one read each check of a management agent makes."""
from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from bosun_local.contracts.states import QueueStatus
from bosun_local.service.context import ServiceContext
from bosun_local.service.events import record_event
from bosun_local.service.models import AgentOut, AgentSnapshotOut, HeartbeatIn
from bosun_local.service.routes.deps import AUTH, Ctx
from bosun_local.service.routes.environments import list_environments
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import iso, now_iso, parse_time, utcnow

router = APIRouter(prefix="/api/v1/agents", tags=["agents"], dependencies=AUTH)
# Open actions a snapshot reads (as many as the agent's own list call used to ask for).
SNAPSHOT_ACTIONS = 1000


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


@router.get("/snapshot", response_model=AgentSnapshotOut)
def snapshot(ctx: Ctx) -> Row:
    """Return what a management agent's check reads, in one request: environments, deployments, open actions."""
    # An idle agent checks every few seconds: one round trip instead of three is most of what idle costs here.
    open_actions = ctx.storage.list_actions(None, QueueStatus.OPEN, SNAPSHOT_ACTIONS)
    return {"environments": list_environments(ctx), "deployments": ctx.storage.list_deployments(include_deleted=True),
            "openActionDeploymentIds": sorted({a["deploymentId"] for a in open_actions})}
