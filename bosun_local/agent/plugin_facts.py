"""What the agent tells its plugins about the host in pluginConfig: the docker plugin reads nothing else of the host."""
from __future__ import annotations

from typing import Any

from bosun_local.config import Config
from bosun_local.host import network_rabbitmq_url, rabbitmq_url, run_as_user


def plugin_facts(config: Config) -> dict[str, Any]:
    """Return the pluginConfig keys the agent adds under each environment's own (docs/plugins.md)."""
    return {
        # The environment stack this agent belongs to, and how traefik is reached from where the agent runs.
        "projectName": config["projectName"],
        "traefikUrl": config["traefikUrl"],
        "stacksDir": str(config.stacks_dir),
        "runAsUser": run_as_user(config.data_dir),
        "rabbitmqNetworkUrl": network_rabbitmq_url(config),
        "rabbitmqStatsUrl": rabbitmq_url(config, host_side=True),
    }
