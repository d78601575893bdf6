"""The swarm plugin: each deployment a replicated swarm stack behind traefik's swarm provider."""
from __future__ import annotations

from bosun_local.plugins.swarm.plugin import SwarmPlugin

__all__ = ["SwarmPlugin"]
