"""Container and Compose labels bosun-local puts on what it runs, and the Compose labels it reads."""
from __future__ import annotations

from typing import Final

PREFIX: Final = "io.bosun-local."
# PPS containers of a deployment: which deployment, model, environment network and model package.
DEPLOYMENT: Final = PREFIX + "deployment"
MODEL: Final = PREFIX + "model"
NETWORK: Final = PREFIX + "network"
ARTIFACT: Final = PREFIX + "artifact"
# What a PPS container is to its deployment: champion (serves clients), challenger (mirrored) or canary (a share).
ROLE: Final = PREFIX + "role"
# Which replica of its model a champion container is (1, 2, ...); absent on the first (and on single-replica ones).
REPLICA: Final = PREFIX + "replica"
# Services of the environment stack: which component (traefik, rabbitmq, service, *-agent), made by bosun-local.
COMPONENT: Final = PREFIX + "component"
MANAGED: Final = PREFIX + "managed"
# Sandbox containers of package checks: which package (with NETWORK: which environment's agent started it).
SANDBOX: Final = PREFIX + "sandbox"
# Workshop containers and built images.
WORKSHOP: Final = PREFIX + "workshop"
VERSION: Final = PREFIX + "version"
INPUTS_HASH: Final = PREFIX + "inputs-hash"
# Hash of files a service reads through bind mounts (Prometheus' config): a change recreates its container.
CONFIG_HASH: Final = PREFIX + "config-hash"
# Set by Docker Compose on what it creates.
COMPOSE_PROJECT: Final = "com.docker.compose.project"
COMPOSE_SERVICE: Final = "com.docker.compose.service"
COMPOSE_CONFIG_FILES: Final = "com.docker.compose.project.config_files"
# Values of COMPONENT.
MONITORING_AGENT: Final = "monitoring-agent"
RABBITMQ: Final = "rabbitmq"
# The docker plugin's shared PPS pool (one per environment, serving every shared deployment).
PPS_POOL: Final = "pps-pool"


def template_globals() -> dict[str, str]:
    """Return the labels by name (DEPLOYMENT, MODEL, ...) for templates that write them."""
    return {name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)}
