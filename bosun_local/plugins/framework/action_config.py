"""The action config file: read, validate (errors name the file, line and key), and write samples."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bosun_local.configkit.yaml_file import read_yaml
from bosun_local.errors import ConfigError
from bosun_local.plugins.framework.constants import BosunPluginActions, BosunPluginConfigConstants, ModelExecutionType
from bosun_local.plugins.framework.deployment_info import DeploymentInfo
from bosun_local.plugins.framework.info_fields import ActionConfigError, id_field, require_mapping
from bosun_local.plugins.framework.pe_info import PEInfo

K = BosunPluginConfigConstants
SAMPLE_PE_ID = "5f0c1d2e3a4b5c6d7e8f9a0b"
SAMPLE_DEPLOYMENT_ID = "6a1b2c3d4e5f6a7b8c9d0e1f"
SAMPLE_MODEL_ID = "7b2c3d4e5f6a7b8c9d0e1f2a"
SAMPLE_NEW_MODEL_ID = "8c3d4e5f6a7b8c9d0e1f2a3b"


@dataclass
class ActionConfig:
    """The validated sections of an action config."""

    plugin_config: dict[str, Any]
    pe_info: dict[str, Any] | None
    deployment_info: dict[str, Any] | None
    endpoint_info: dict[str, Any] | None
    scale_info: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the sections as an action config dict."""
        config: dict[str, Any] = {K.PLUGIN_CONFIG_KEY: self.plugin_config}
        for key, value in ((K.PE_INFO_KEY, self.pe_info), (K.DEPLOYMENT_INFO_KEY, self.deployment_info),
                           (K.ENDPOINT_INFO_KEY, self.endpoint_info), (K.SCALE_INFO_KEY, self.scale_info)):
            if value is not None:
                config[key] = value
        return config


def validate_action_config(values: object, action: str) -> ActionConfig:
    """Check an action config dict for `action`; raise ActionConfigError naming the bad key."""
    config = require_mapping(values, "the action config")
    if K.PLUGIN_CONFIG_KEY not in config:
        raise ActionConfigError(K.PLUGIN_CONFIG_KEY, "is missing",
                                fix=f"add a top-level `{K.PLUGIN_CONFIG_KEY}:` mapping ({{}} for none)")
    plugin_config = config[K.PLUGIN_CONFIG_KEY]
    plugin_config = {} if plugin_config is None else require_mapping(plugin_config, K.PLUGIN_CONFIG_KEY)
    pe_info = config.get(K.PE_INFO_KEY)
    if pe_info is not None:
        PEInfo(pe_info)  # validate now so the error names the key, not a traceback from the plugin
    deployment_info = config.get(K.DEPLOYMENT_INFO_KEY)
    if action in BosunPluginActions.NEED_DEPLOYMENT_INFO:
        if deployment_info is None:
            raise ActionConfigError(K.DEPLOYMENT_INFO_KEY, f"is missing; action {action} needs it",
                                    fix="add a `deploymentInfo:` mapping with id, modelId, modelExecutionType")
        if action == BosunPluginActions.DEPLOYMENT_STOP:
            id_field(require_mapping(deployment_info, K.DEPLOYMENT_INFO_KEY), "id", K.DEPLOYMENT_INFO_KEY)
        else:
            DeploymentInfo(deployment_info)
    endpoint_info = config.get(K.ENDPOINT_INFO_KEY)
    if endpoint_info is not None:
        require_mapping(endpoint_info, K.ENDPOINT_INFO_KEY)
    scale_info = config.get(K.SCALE_INFO_KEY)
    if scale_info is not None:
        replicas = require_mapping(scale_info, K.SCALE_INFO_KEY).get("replicas")
        if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0):
            raise ActionConfigError(f"{K.SCALE_INFO_KEY}.replicas", f"must be a whole number >= 0, got {replicas!r}",
                                    fix="set replicas like 1 or 3, or leave it out to only report the count")
    return ActionConfig(plugin_config, pe_info, deployment_info, endpoint_info, scale_info)


def load_action_config(path: str | Path, action: str) -> ActionConfig:
    """Read and validate an action config file; errors name the file, line and key."""
    file = read_yaml(path, "action config file", missing_fix="pass an existing file to --config "
                                                             "(write one with --gen-config)")
    values = file.document
    if not isinstance(values, dict):
        raise ConfigError(f"{file.path}: expected a mapping with a top-level `{K.PLUGIN_CONFIG_KEY}` key, "
                          f"got {'an empty file' if values is None else type(values).__name__}",
                          fix="write the config as `key: value` lines (see --gen-config)")
    try:
        return validate_action_config(values, action)
    except ActionConfigError as exc:
        raise ActionConfigError(exc.key, f"{exc.problem} (in {file.where(exc.key)})", exc.fix) from exc


def sample_action_config(action: str | None, plugin_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a sample action config: everything `action` needs, or every section when action is None."""
    config: dict[str, Any] = {K.PLUGIN_CONFIG_KEY: dict(plugin_config or {})}
    deployment: dict[str, Any] = {
        "id": SAMPLE_DEPLOYMENT_ID,
        "modelId": SAMPLE_MODEL_ID,
        "modelExecutionType": ModelExecutionType.CUSTOM_INFERENCE_MODEL,
        "name": "sample deployment",
        "modelArtifact": "./model",
        "keyValueConfig": {},
    }
    if action in (None, BosunPluginActions.DEPLOYMENT_REPLACE_MODEL):
        deployment["newModelId"] = SAMPLE_NEW_MODEL_ID
    config[K.PE_INFO_KEY] = {"id": SAMPLE_PE_ID, "name": "sample environment",
                             "deployments": [SAMPLE_DEPLOYMENT_ID], "keyValueConfig": {}}
    if action is None or action in BosunPluginActions.NEED_DEPLOYMENT_INFO:
        config[K.DEPLOYMENT_INFO_KEY] = deployment
    return config


def render_sample(action: str | None, plugin_name: str | None, plugin_config: dict[str, Any] | None) -> str:
    """Return a sample action config as commented YAML."""
    header = [
        f"# Sample action config for bosun-plugin-runner"
        f"{' --plugin ' + plugin_name if plugin_name else ''}{' --action ' + action if action else ''}.",
        "# pluginConfig: the plugin's settings; peInfo: the prediction environment;",
        "# deploymentInfo: the deployment (needed by deployment_start/stop/replace_model/status/relaunch).",
        "# Relative paths are relative to the directory the runner is started in.",
    ]
    body = yaml.safe_dump(sample_action_config(action, plugin_config), sort_keys=False, default_flow_style=False)
    return "\n".join(header) + "\n" + body
