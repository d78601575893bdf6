"""Names plugins use: actions and states (from bosun_local.contracts), execution types, action-config keys."""
from __future__ import annotations

from bosun_local.contracts.actions import PluginAction
from bosun_local.contracts.states import DeploymentState

# DataRobot-compatible names of the shared vocabularies (bosun_local.contracts holds them).
BosunPluginActions = PluginAction
__all__ = ["BosunPluginActions", "BosunPluginConfigConstants", "DeploymentState", "ModelExecutionType"]


class ModelExecutionType:
    """How a deployment's model is executed."""

    DEDICATED = "dedicated"
    CUSTOM_INFERENCE_MODEL = "custom_inference_model"
    EXTERNAL = "external"

    ALL = (DEDICATED, CUSTOM_INFERENCE_MODEL, EXTERNAL)


class BosunPluginConfigConstants:
    """Top-level keys of the action config file and keys the agent adds to `pluginConfig`."""

    PLUGIN_CONFIG_KEY = "pluginConfig"
    PE_INFO_KEY = "peInfo"
    DEPLOYMENT_INFO_KEY = "deploymentInfo"
    ENDPOINT_INFO_KEY = "endpointInfo"
    # bosun-local extension: the input of monitoring_scale ({replicas: <count>}).
    SCALE_INFO_KEY = "scaleInfo"
    MLOPS_URL_KEY = "MLOPS_URL"
    MLOPS_API_TOKEN_KEY = "MLOPS_API_TOKEN"
    MLOPS_PE_ID_KEY = "MLOPS_BOSUN_PRED_ENV_ID"
