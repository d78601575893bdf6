"""The management-agent plugin framework: BosunPluginBase, action results, and running actions.

Plugins written against the documented `bosun.plugin` modules run unchanged once their imports
say `bosun_local.plugins` instead: the same module names (`bosun_plugin_base`, `action_status`,
`constants`, `deployment_info`, `pe_info`, `endpoint_info`) hold the same classes.
"""
from __future__ import annotations

from bosun_local.plugins.action_status import ActionDataFields, ActionStatus, ActionStatusInfo
from bosun_local.plugins.actions import ActionInterrupted, execute_action, read_status_file, run_action
from bosun_local.plugins.bosun_plugin_base import BosunPluginBase
from bosun_local.plugins.constants import (
    BosunPluginActions,
    BosunPluginConfigConstants,
    DeploymentState,
    ModelExecutionType,
)
from bosun_local.plugins.deployment_info import DeploymentInfo
from bosun_local.plugins.endpoint_info import EndpointInfo
from bosun_local.plugins.info_fields import ActionConfigError
from bosun_local.plugins.loader import BUILTIN_PLUGINS, PluginLoadError, list_plugins, load_plugin_class
from bosun_local.plugins.pe_info import PEInfo

__all__ = [
    "ActionConfigError", "ActionDataFields", "ActionInterrupted", "ActionStatus", "ActionStatusInfo",
    "BUILTIN_PLUGINS", "BosunPluginActions", "BosunPluginBase", "BosunPluginConfigConstants", "DeploymentInfo",
    "DeploymentState", "EndpointInfo", "ModelExecutionType", "PEInfo", "PluginLoadError", "execute_action",
    "list_plugins", "load_plugin_class", "read_status_file", "run_action",
]
