"""Environment health for the header, from the service's environment route or, lacking it, agent heartbeats."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bosun_local.tui.formatting import age_text
from bosun_local.tui.snapshot import ComponentHealth, Json

HEARTBEAT_KEYS = ("lastHeartbeatAt", "lastHeartbeat", "lastSeenAt", "lastSeen", "updatedAt")
# A management agent beats every few seconds; silence this long means it is probably gone.
HEARTBEAT_WARN_SEC = 30.0
HEARTBEAT_FAIL_SEC = 120.0


def _parse(iso: Any) -> datetime | None:
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def heartbeat_age(agent: Json, now: datetime) -> float | None:
    """Return seconds since an agent's last heartbeat, None when it never reported one."""
    for key in HEARTBEAT_KEYS:
        moment = _parse(agent.get(key))
        if moment is not None:
            return (now - moment).total_seconds()
    return None


def _agent_status(agent: Json, age: float | None) -> str:
    if agent.get("online") is False:
        return "failing"
    if age is None:
        return "unknown"
    if age > HEARTBEAT_FAIL_SEC:
        return "failing"
    return "warning" if age > HEARTBEAT_WARN_SEC else "passing"


def _from_route(entry: Any, name: str) -> ComponentHealth | None:
    """Read one component of `GET /api/v1/environment` ({status, detail, ...} or a bare status word)."""
    if isinstance(entry, str):
        return ComponentHealth(name, entry)
    if not isinstance(entry, dict):
        return None
    detail = str(entry.get("detail") or entry.get("message") or "")
    if name == "rabbitmq" and ("queueDepth" in entry or "consumers" in entry):
        detail = f"queue {entry.get('queueDepth', '?')}, {entry.get('consumers', '?')} consumers"
    return ComponentHealth(name, str(entry.get("status") or "unknown"), detail)


def _rabbitmq_from_agents(monitoring: list[Json]) -> ComponentHealth:
    """Read the queue figures monitoring agents put in their heartbeat data, if they do."""
    depths = [a["data"]["queueDepth"] for a in monitoring if isinstance(a.get("data"), dict)
              and isinstance(a["data"].get("queueDepth"), int | float)]
    consumers = [a["data"]["consumers"] for a in monitoring if isinstance(a.get("data"), dict)
                 and isinstance(a["data"].get("consumers"), int | float)]
    if not depths:
        return ComponentHealth("rabbitmq", "unknown", "not reported")
    detail = f"queue {int(max(depths))}, {int(max(consumers)) if consumers else '?'} consumers"
    return ComponentHealth("rabbitmq", "passing", detail)


def environment_health(service_ok: bool, service_detail: str, agents: list[Json] | None,
                       environment: Json | None, now: datetime | None = None) -> list[ComponentHealth]:
    """Return the header's components: service, traefik, rabbitmq, management agent, monitoring agents."""
    now = now or datetime.now(UTC)
    service = ComponentHealth("service", "passing" if service_ok else "failing", service_detail)
    if not service_ok:
        # Nothing else is knowable while the service is down: show it as unknown rather than stale.
        return [service, *(ComponentHealth(n, "unknown", "") for n in
                           ("traefik", "rabbitmq", "management agent", "monitoring agents"))]
    agents = agents or []
    management = [a for a in agents if a.get("kind") == "management"]
    monitoring = [a for a in agents if a.get("kind") == "monitoring"]

    env = environment or {}
    traefik = _from_route(env.get("traefik"), "traefik") or ComponentHealth("traefik", "unknown", "not reported")
    rabbitmq = _from_route(env.get("rabbitmq"), "rabbitmq") or _rabbitmq_from_agents(monitoring)

    if management:
        ages = [(heartbeat_age(a, now), a) for a in management]
        freshest_age, freshest = min(ages, key=lambda pair: float("inf") if pair[0] is None else pair[0])
        mgmt = ComponentHealth("management agent", _agent_status(freshest, freshest_age), age_text(freshest_age))
    else:
        mgmt = ComponentHealth("management agent", "unknown", "none seen")

    live = [a for a in monitoring if _agent_status(a, heartbeat_age(a, now)) in ("passing", "warning")]
    if monitoring:
        status = "passing" if live else "failing"
        mon = ComponentHealth("monitoring agents", status, f"{len(live)} of {len(monitoring)} live")
    else:
        mon = ComponentHealth("monitoring agents", "unknown", "none seen")
    return [service, traefik, rabbitmq, mgmt, mon]
