"""The management agent: claims actions from the service, runs plugins, keeps deployments healthy."""
from __future__ import annotations

from bosun_local.agent.agent import ManagementAgent
from bosun_local.agent.settings import AgentSettings

__all__ = ["AgentSettings", "ManagementAgent"]
