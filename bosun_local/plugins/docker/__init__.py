"""The docker plugin: one Compose project per deployment behind traefik."""
from __future__ import annotations

from bosun_local.plugins.docker.plugin import DockerPlugin

__all__ = ["DockerPlugin"]
