"""Service start-up: the default docker prediction environment, and a note of the actions agents held meanwhile."""
from __future__ import annotations

from bosun_local.contracts.states import QueueStatus
from bosun_local.service.context import ServiceContext
from bosun_local.service.events import record_event
from bosun_local.service.timeutil import new_id, now_iso

DEFAULT_ENVIRONMENT_NAME = "docker"
# The docker plugin's keys (the seed's plugin.docker.conf.yaml) copied from the user's config at first start.
DOCKER_PLUGIN_KEYS = ("dockerNetwork", "traefikImage", "outfacingPredictionURLPrefix", "agentImage", "rabbitmqImage",
                      "ppsBaseImage", "generatedImagePrefix", "containerNamePrefix", "traefikPortMapping",
                      "rabbitmqPortMapping", "monitoringEnabled", "rabbitmqQueueName", "servingMode")


def default_plugin_config(ctx: ServiceContext) -> dict[str, object]:
    """Return the docker plugin config built from the resolved bosun-local config."""
    return {key: ctx.config[key] for key in DOCKER_PLUGIN_KEYS if key in ctx.config.values}


def ensure_default_environment(ctx: ServiceContext) -> None:
    """Create the default docker environment once; later starts follow config changes unless the user edited it."""
    env_id = ctx.storage.get_setting("defaultEnvironmentId")
    if env_id:
        _follow_config(ctx, env_id)
        return
    now = now_iso()
    env = {"id": new_id(), "name": DEFAULT_ENVIRONMENT_NAME, "platform": "docker",
           "description": "Docker Compose stacks on this host (created at first start)",
           "pluginConfig": default_plugin_config(ctx), "command": None, "createdAt": now, "updatedAt": now}
    with ctx.storage.transaction():
        # Looked up inside the write transaction: service replicas starting together on one PostgreSQL create it once.
        existing = ctx.storage.find_environment_by_name(DEFAULT_ENVIRONMENT_NAME)
        if existing is None:
            ctx.storage.insert_environment(env)
        ctx.storage.put_setting("defaultEnvironmentId", (existing or env)["id"])
        ctx.storage.put_setting("defaultEnvironmentConfig", env["pluginConfig"])
    if existing is None:
        record_event(ctx, "environment_created", "info", f"created the default docker environment {env['id']}",
                     environment_id=str(env["id"]))


def _follow_config(ctx: ServiceContext, env_id: str) -> None:
    """Refresh the default environment's plugin config from config keys, if it still holds what we last wrote."""
    env = ctx.storage.get_environment(env_id)
    written = ctx.storage.get_setting("defaultEnvironmentConfig")
    current = default_plugin_config(ctx)
    if env is None or env["pluginConfig"] != written or current == written:
        return
    with ctx.storage.transaction():
        ctx.storage.update_environment(env_id, {"pluginConfig": current})
        ctx.storage.put_setting("defaultEnvironmentConfig", current)
    changed = sorted(k for k in current if current.get(k) != (written or {}).get(k))
    record_event(ctx, "environment_updated", "info",
                 f"default environment {env['name']} follows the changed config key(s) {', '.join(changed)}",
                 environment_id=env_id)


def note_open_claims(ctx: ServiceContext) -> None:
    """Say at start which actions agents held when the service stopped: they finish them, nothing is queued again."""
    held = ctx.storage.list_actions(None, (QueueStatus.CLAIMED,), 10000)
    if not held:
        return
    agents = sorted({str(a.get("agentId")) for a in held})
    record_event(ctx, "service_started_with_claims", "info",
                 f"the MLOps service started while agents {', '.join(agents)} held {len(held)} actions: they keep "
                 "them and report their results, or the actions run again when their leases end",
                 data={"actionIds": [a["id"] for a in held], "agentIds": agents})
