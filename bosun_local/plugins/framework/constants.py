"""Names plugins use: actions and states (from bosun_local.contracts), config keys, execution types.

Every class, name and value of DataRobot's `bosun.plugin.constants` is here with the same value
(`all_actions()` in DataRobot's order, which `--list-actions` prints); our additions come after.
"""
from __future__ import annotations

from bosun_local.contracts.actions import PluginAction
from bosun_local.contracts.states import DeploymentState

__all__ = ["BosunPluginActions", "BosunPluginConfigConstants", "DeploymentInfoConfigConstants", "DeploymentState",
           "EndpointConfigConstants", "ModelExecutionType", "PeInfoConfigConstants"]


class BosunPluginActions(PluginAction):
    """Every action the runner and the agent can ask a plugin to run (the contract's names, DataRobot's methods)."""

    @staticmethod
    def all_actions() -> list[str]:
        """Return DataRobot's eleven actions, in the order its runner's `--list-actions` prints them."""
        a = PluginAction
        return [a.PLUGIN_START, a.PLUGIN_STOP, a.DEPLOYMENT_START, a.DEPLOYMENT_STOP, a.DEPLOYMENT_REPLACE_MODEL,
                a.DEPLOYMENT_STATUS, a.PE_STATUS, a.DEPLOYMENT_LIST, a.DEPLOYMENT_RELAUNCH, a.ENDPOINT_UPDATE,
                a.ENDPOINT_STATUS]

    @staticmethod
    def require_deployment_info() -> set[str]:
        """Return the actions DataRobot's runner refuses to run without a `deploymentInfo` section.

        Relaunch is not among them there; NEED_DEPLOYMENT_INFO (what our runner checks) includes it.
        """
        a = PluginAction
        return {a.DEPLOYMENT_START, a.DEPLOYMENT_STATUS, a.DEPLOYMENT_STOP, a.DEPLOYMENT_REPLACE_MODEL}


class BosunPluginConfigConstants:
    """Keys of the action config and the keys the agent and the runner put into `pluginConfig`."""

    PLUGIN_CONFIG_KEY = "pluginConfig"
    MLOPS_URL_KEY = "MLOPS_BOSUN_MONITORING_URL"
    MLOPS_AGENT_VERIFY_SSL = "MLOPS_AGENT_VERIFY_SSL"
    MLOPS_API_TOKEN_ENV = "MLOPS_API_TOKEN"
    MLOPS_API_TOKEN_KEY = "mlopsApiToken"

    MLOPS_BOSUN_PRED_ENV_TYPE_KEY = "MLOPS_BOSUN_PRED_ENV_TYPE"
    MLOPS_BOSUN_PRED_ENV_PLATFORM_KEY = "MLOPS_BOSUN_PRED_ENV_PLATFORM"
    MLOPS_BOSUN_PRED_ENV_ID_KEY = "MLOPS_BOSUN_PRED_ENV_ID"
    MLOPS_BOSUN_PRED_ENV_ENABLE_MONITORING_KEY = "MLOPS_BOSUN_PRED_ENV_ENABLE_MONITORING"
    COMMAND_KEY = "command"

    # bosun-local's names for the other sections and keys (DataRobot keeps them in the classes below).
    PE_INFO_KEY = "peInfo"
    DEPLOYMENT_INFO_KEY = "deploymentInfo"
    ENDPOINT_INFO_KEY = "endpointInfo"
    # bosun-local extension: the input of monitoring_scale ({replicas: <count>}).
    SCALE_INFO_KEY = "scaleInfo"
    MLOPS_PE_ID_KEY = MLOPS_BOSUN_PRED_ENV_ID_KEY
    # The service URL under the model connector's key, which DataRobot's agent passes too.
    MLOPS_SERVICE_URL_KEY = "mlopsUrl"
    # bosun-local's host facts (docs/plugins.md): the environment stack's Compose project, traefik as reached
    # from the agent, where deployment stacks go, the containers' uid:gid, and the spool's AMQP URLs.
    PROJECT_NAME_KEY = "projectName"
    TRAEFIK_URL_KEY = "traefikUrl"
    STACKS_DIR_KEY = "stacksDir"
    ROUTES_DIR_KEY = "routesDir"
    RUN_AS_USER_KEY = "runAsUser"
    RABBITMQ_NETWORK_URL_KEY = "rabbitmqNetworkUrl"
    RABBITMQ_STATS_URL_KEY = "rabbitmqStatsUrl"


class PeInfoConfigConstants:
    """Key of the prediction environment section of an action config."""

    PE_INFO_KEY = "peInfo"


class EndpointConfigConstants:
    """Keys of the endpoint section of an action config."""

    ENDPOINT_KEY = "endpointInfo"
    DEFAULT_DEPLOYMENT_ID = "defaultDeploymentId"


class DeploymentInfoConfigConstants:
    """Key of the deployment section of an action config, and DataRobot's model formats."""

    DEPLOYMENT_INFO_KEY = "deploymentInfo"
    MODEL_FORMAT_MLPKG = "datarobot"
    MODEL_FORMAT_SCORING_CODE = "datarobotScoringCode"

    @staticmethod
    def model_artifact_suffix(model_format: str | None) -> str:
        """Return the file suffix of a model format's artifact ('' for formats without one)."""
        return {DeploymentInfoConfigConstants.MODEL_FORMAT_MLPKG: "mlpkg",
                DeploymentInfoConfigConstants.MODEL_FORMAT_SCORING_CODE: "jar"}.get(model_format or "", "")


class ModelExecutionType:
    """How a deployment's model is executed (DataRobot's ModelPackageConstants.MODEL_EXECUTION_* values)."""

    DEDICATED = "dedicated"
    CUSTOM_INFERENCE_MODEL = "custom_inference_model"
    EXTERNAL = "external"

    ALL = (DEDICATED, CUSTOM_INFERENCE_MODEL, EXTERNAL)
