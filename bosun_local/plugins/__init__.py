"""The management-agent plugin framework (`framework/`) and the built-in plugins (`docker/`, `filesystem/`, `test/`).

Plugins written against the documented `bosun.plugin` modules run unchanged once their imports
say `bosun_local.plugins` instead: the same module names (`bosun_plugin_base`, `action_status`,
`constants`, `deployment_info`, `pe_info`, `endpoint_info`) hold the same classes; they live in
`bosun_local.plugins.framework` and are registered here under their DataRobot-compatible paths.
"""
from __future__ import annotations

import sys
from types import ModuleType

from bosun_local.plugins.framework import (
    action_status,
    bosun_plugin_base,
    constants,
    deployment_info,
    endpoint_info,
    pe_info,
)
from bosun_local.plugins.framework.action_status import ActionDataFields, ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase
from bosun_local.plugins.framework.constants import (
    BosunPluginActions,
    BosunPluginConfigConstants,
    DeploymentState,
    ModelExecutionType,
)
from bosun_local.plugins.framework.deployment_info import DeploymentInfo
from bosun_local.plugins.framework.endpoint_info import EndpointInfo
from bosun_local.plugins.framework.execution import ActionInterrupted, execute_action, read_status_file, run_action
from bosun_local.plugins.framework.info_fields import ActionConfigError
from bosun_local.plugins.framework.loader import PluginLoadError, list_plugins, load_plugin_class
from bosun_local.plugins.framework.pe_info import PEInfo
from bosun_local.plugins.framework.registry import BUILTIN_PLUGINS, ENTRY_POINT_GROUP, plugin_names

# `from bosun_local.plugins.bosun_plugin_base import ...` (the documented, DataRobot-shaped path) finds these.
COMPAT_MODULES: dict[str, ModuleType] = {
    "action_status": action_status, "bosun_plugin_base": bosun_plugin_base, "constants": constants,
    "deployment_info": deployment_info, "endpoint_info": endpoint_info, "pe_info": pe_info,
}
for _name, _module in COMPAT_MODULES.items():
    sys.modules.setdefault(f"{__name__}.{_name}", _module)

__all__ = [
    "ENTRY_POINT_GROUP", "ActionConfigError", "ActionDataFields", "ActionInterrupted", "ActionStatus",
    "ActionStatusInfo", "BUILTIN_PLUGINS", "BosunPluginActions", "BosunPluginBase", "BosunPluginConfigConstants",
    "DeploymentInfo", "DeploymentState", "EndpointInfo", "ModelExecutionType", "PEInfo", "PluginLoadError",
    "action_status", "bosun_plugin_base", "constants", "deployment_info", "endpoint_info", "execute_action",
    "list_plugins", "load_plugin_class", "pe_info", "plugin_names", "read_status_file", "run_action",
]
