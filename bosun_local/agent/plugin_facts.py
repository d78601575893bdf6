"""What the agent tells its plugins about the host in pluginConfig: the docker plugin reads nothing else of the host."""
from __future__ import annotations

from typing import Any

from bosun_local.config import Config
from bosun_local.host import network_rabbitmq_url, rabbitmq_management_url, rabbitmq_url, run_as_user
from bosun_local.plugins.framework.constants import BosunPluginConfigConstants as K


def plugin_facts(config: Config) -> dict[str, Any]:
    """Return the pluginConfig keys the agent adds under each environment's own (docs/plugins.md)."""
    return {
        # The environment stack this agent belongs to, and how traefik is reached from where the agent runs.
        K.PROJECT_NAME_KEY: config["projectName"],
        K.TRAEFIK_URL_KEY: config["traefikUrl"],
        K.STACKS_DIR_KEY: str(config.stacks_dir),
        K.ROUTES_DIR_KEY: str(config.traefik_dir),
        K.RUN_AS_USER_KEY: run_as_user(config.data_dir),
        K.RABBITMQ_NETWORK_URL_KEY: network_rabbitmq_url(config),
        K.RABBITMQ_STATS_URL_KEY: rabbitmq_url(config, host_side=True),
        "rabbitmqManagementUrl": rabbitmq_management_url(config),
    }
