"""What the agent adds to every action's `pluginConfig`, as DataRobot's agent does: the environment's keys.

DataRobot's agent gives each plugin MLOPS_BOSUN_PRED_ENV_ID, _TYPE, _PLATFORM, _ENABLE_MONITORING, `command` and
the MLOps URL; its plugins read them (DataRobot's test plugin names its files after the environment id). The API
token never goes into a config file: an external command gets it as $MLOPS_API_TOKEN (the runner hands it on as
pluginConfig['mlopsApiToken']); a plugin run in process gets it in pluginConfig directly.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bosun_local.plugins.framework.constants import BosunPluginConfigConstants as K
from bosun_local.plugins.framework.handover import runner_plugin_config

# DataRobot's type of an environment whose plugin is an external command; ours run in the agent otherwise.
EXTERNAL_COMMAND = "ExternalCommand"
IN_PROCESS = "BosunLocal"
# Platforms whose plugin monitors deployments unless told otherwise (the docker plugin's monitoringEnabled default).
MONITORED_BY_DEFAULT = ("docker",)


def environment_plugin_config(plugin_config: Mapping[str, Any] | None, environment: Mapping[str, Any],
                              service_url: str | None) -> dict[str, Any]:
    """Return pluginConfig plus DataRobot's environment keys; values the environment's config sets are kept."""
    config = dict(plugin_config or {})
    command = str(environment.get("command") or "").strip()
    platform = str(environment.get("platform") or "")
    monitoring = config.get("monitoringEnabled", platform in MONITORED_BY_DEFAULT)
    added: dict[str, Any] = {
        K.MLOPS_BOSUN_PRED_ENV_ID_KEY: environment.get("id"),
        K.MLOPS_BOSUN_PRED_ENV_TYPE_KEY: EXTERNAL_COMMAND if command else IN_PROCESS,
        K.MLOPS_BOSUN_PRED_ENV_PLATFORM_KEY: platform or None,
        K.MLOPS_BOSUN_PRED_ENV_ENABLE_MONITORING_KEY: bool(monitoring),
        K.COMMAND_KEY: command or None,
        K.MLOPS_URL_KEY: service_url,
        K.MLOPS_SERVICE_URL_KEY: service_url,
    }
    for key, value in added.items():
        if value is not None:
            config.setdefault(key, value)
    return config


def in_process_plugin_config(plugin_config: dict[str, Any], token: str | None) -> dict[str, Any]:
    """Return pluginConfig with what the runner would have added: the token and the SSL choice."""
    return runner_plugin_config(plugin_config, {K.MLOPS_API_TOKEN_ENV: token} if token else {})


def pe_deployment(deployment: Mapping[str, Any]) -> dict[str, Any] | str:
    """Return one deployment of a peInfo as DataRobot's agent sends it to pe_status (a mapping), else its id."""
    if not deployment.get("packageId"):
        return str(deployment["id"])
    return {"id": deployment["id"], "name": deployment.get("name") or "",
            "description": deployment.get("description"), "modelId": deployment["packageId"],
            "modelExecutionType": "external" if deployment.get("external") else "dedicated",
            "keyValueConfig": dict(deployment.get("keyValueConfig") or {})}
