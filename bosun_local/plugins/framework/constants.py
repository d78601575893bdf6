"""Names shared by plugins, the runner and the management agent: actions, states, config keys."""
from __future__ import annotations


class DeploymentState:
    """States a plugin reports for a deployment (the `state` of an ActionStatusInfo)."""

    READY = "ready"
    STOPPED = "stopped"
    ERROR = "errored"
    LAUNCHING = "launching"
    REPLACING_MODEL = "replacingModel"
    SHUTTING_DOWN = "shuttingDown"
    UNKNOWN = "unknown"

    ALL = (READY, STOPPED, ERROR, LAUNCHING, REPLACING_MODEL, SHUTTING_DOWN, UNKNOWN)


class BosunPluginActions:
    """Every action the runner and the agent can ask a plugin to run."""

    PLUGIN_START = "plugin_start"
    PLUGIN_STOP = "plugin_stop"
    DEPLOYMENT_LIST = "deployment_list"
    DEPLOYMENT_START = "deployment_start"
    DEPLOYMENT_STOP = "deployment_stop"
    DEPLOYMENT_REPLACE_MODEL = "deployment_replace_model"
    DEPLOYMENT_STATUS = "deployment_status"
    DEPLOYMENT_RELAUNCH = "deployment_relaunch"
    PE_STATUS = "pe_status"
    ENDPOINT_UPDATE = "endpoint_update"
    ENDPOINT_STATUS = "endpoint_status"

    ALL = (
        PLUGIN_START, PLUGIN_STOP, DEPLOYMENT_LIST, DEPLOYMENT_START, DEPLOYMENT_STOP,
        DEPLOYMENT_REPLACE_MODEL, DEPLOYMENT_STATUS, DEPLOYMENT_RELAUNCH, PE_STATUS,
        ENDPOINT_UPDATE, ENDPOINT_STATUS,
    )
    # Actions that act on one deployment and therefore need `deploymentInfo` in the action config.
    NEED_DEPLOYMENT_INFO = (
        DEPLOYMENT_START, DEPLOYMENT_STOP, DEPLOYMENT_REPLACE_MODEL, DEPLOYMENT_STATUS, DEPLOYMENT_RELAUNCH,
    )


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
    MLOPS_URL_KEY = "MLOPS_URL"
    MLOPS_API_TOKEN_KEY = "MLOPS_API_TOKEN"
    MLOPS_PE_ID_KEY = "MLOPS_BOSUN_PRED_ENV_ID"
