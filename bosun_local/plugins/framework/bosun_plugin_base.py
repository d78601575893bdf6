"""BosunPluginBase: the class every management-agent plugin derives from."""
from __future__ import annotations

import logging
import time
import traceback
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from bosun_local.plugins.framework.action_status import ActionInterrupted, ActionStatus, ActionStatusInfo, failed

# BosunPluginActions, DeploymentState are for plugins: DataRobot's module offers them here too.
from bosun_local.plugins.framework.constants import (  # noqa: F401
    BosunPluginActions,
    BosunPluginConfigConstants,
    DeploymentState,
)
from bosun_local.plugins.framework.constants import BosunPluginActions as A
from bosun_local.plugins.framework.deployment_info import DeploymentInfo
from bosun_local.plugins.framework.endpoint_info import EndpointInfo
from bosun_local.plugins.framework.pe_info import PEInfo
from bosun_local.plugins.framework.settings import resolve_settings

log = logging.getLogger(__name__)


class BosunPluginBase(ABC):
    """One method per action; each returns an ActionStatusInfo."""

    # Settings a plugin understands, with their defaults; built-ins read them through `settings()`.
    DEFAULT_SETTINGS: ClassVar[dict[str, Any]] = {}

    def __init__(self, plugin_config: dict[str, Any] | None, private_config_file: str | None = None,
                 pe_info: dict[str, Any] | None = None, dry_run: bool = False) -> None:
        self._plugin_config: dict[str, Any] = plugin_config or {}
        self._private_config_file = private_config_file
        self._pe_info = PEInfo(pe_info) if pe_info else None
        self._logger = logging.getLogger(f"{self.__class__.__module__}.{self.__class__.__name__}")
        self._dry_run = dry_run
        self._deployment_info: dict[str, Any] | None = None
        self._endpoint_info: dict[str, Any] | None = None

    @classmethod
    def sample_plugin_config(cls) -> dict[str, Any]:
        """Return the `pluginConfig` written by `bosun-plugin-runner --gen-config`."""
        return dict(cls.DEFAULT_SETTINGS)

    def settings(self) -> dict[str, Any]:
        """Return DEFAULT_SETTINGS overridden by pluginConfig, then by the private config file."""
        return resolve_settings(self.DEFAULT_SETTINGS, self._plugin_config, self._private_config_file,
                                self.__class__.__name__, self._logger)

    @property
    def pe_info(self) -> PEInfo | None:
        return self._pe_info

    @property
    def dry_run(self) -> bool:
        return self._dry_run

    def endpoint_update(self, endpoint_info: EndpointInfo) -> ActionStatusInfo:
        """Update an endpoint; this default returns nothing, which the framework reports as failing (as DataRobot's)."""
        return None  # type: ignore[return-value]

    def endpoint_status(self, endpoint_info: EndpointInfo) -> ActionStatusInfo:
        """Report an endpoint's status; this default returns nothing, which the framework reports as failing."""
        return None  # type: ignore[return-value]

    @abstractmethod
    def plugin_start(self) -> ActionStatusInfo:
        """Prepare the prediction environment when the agent starts."""

    @abstractmethod
    def plugin_stop(self) -> ActionStatusInfo:
        """Release what plugin_start set up when the agent stops."""

    @abstractmethod
    def deployment_list(self) -> ActionStatusInfo:
        """Report every deployment running in the environment (data: id -> status dict)."""

    @abstractmethod
    def deployment_start(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        """Launch a deployment."""

    @abstractmethod
    def deployment_stop(self, deployment_id: str) -> ActionStatusInfo:
        """Stop a deployment and remove what it runs on."""

    @abstractmethod
    def deployment_replace_model(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        """Swap a running deployment's model for deployment_info.new_model_id."""

    @abstractmethod
    def pe_status(self) -> ActionStatusInfo:
        """Check the prediction environment, and the status of each deployment in it."""

    @abstractmethod
    def deployment_status(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        """Check one deployment."""

    def monitoring_scale(self, replicas: int | None) -> ActionStatusInfo:
        """bosun-local extension: report the environment's monitoring-agent replicas, first setting them if given.

        `data.replicas` is the count now running, or None when the environment runs no scalable monitoring
        agents: plugins without any keep this default (see docs/plugins.md).
        """
        return ActionStatusInfo(ActionStatus.OK, data={"replicas": None},
                                msg=f"{type(self).__name__} runs no monitoring agents to scale")

    def deployment_traffic_update(self, deployment_info: DeploymentInfo,
                                  traffic: dict[str, Any]) -> ActionStatusInfo:
        """bosun-local extension: run challengers and a canary beside the champion as `traffic` says.

        `traffic` is {challengers: [{modelId, modelArtifact}], canary: {modelId, modelArtifact, percent} | None}.
        Plugins without traffic splitting keep this default, which answers unsupported (docs/plugins.md).
        """
        return ActionStatusInfo(ActionStatus.UNKNOWN, data={"unsupported": True},
                                msg=f"plugin {type(self).__name__} does not support deployment_traffic_update "
                                    "(challengers and canary releases, a bosun-local extension); use an environment "
                                    "of the docker plugin, or implement it (docs/plugins.md)")

    def deployment_scale(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        """bosun-local extension: run deploymentInfo.keyValueConfig `replicas` containers of the champion.

        Plugins without replicas keep this default, which answers unsupported (docs/plugins.md).
        """
        return ActionStatusInfo(ActionStatus.UNKNOWN, data={"unsupported": True},
                                msg=f"plugin {type(self).__name__} does not support deployment_scale (replicas "
                                    "changed without dropping requests, a bosun-local extension); use an environment "
                                    "of the docker plugin, or implement it (docs/plugins.md)")

    def deployment_relaunch(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        """Stop (ignoring its errors, the deployment is started again right away), then start."""
        self._logger.info("Processing deployment relaunch")
        status = self.deployment_stop(deployment_info.id)
        self._logger.info("Deployment stop status: %s", status)
        return self.deployment_start(deployment_info)

    def run_action(self, action: str, deployment_info: dict[str, Any] | None,
                   endpoint_info: dict[str, Any] | None = None,
                   status_file: str | Path | None = None) -> ActionStatusInfo:
        """Run one action, catching every error into a failing status; write it to status_file if given."""
        status = execute_action(self, action, deployment_info, endpoint_info)
        status.write_to_file(str(status_file) if status_file else None)
        return status

    @staticmethod
    def get_sanitized_config(parsed_config: dict[str, Any]) -> dict[str, Any]:
        """Return a copy of a config with the MLOps API token masked, for logging."""
        sanitized = dict(parsed_config)
        key = BosunPluginConfigConstants.MLOPS_API_TOKEN_KEY
        if sanitized.get(key):
            sanitized[key] = str(sanitized[key])[:12] + "*******"
        return sanitized

    def _set_deployment_info(self, deployment_info: dict[str, Any] | None) -> None:
        self._deployment_info = deployment_info

    def _set_endpoint_info(self, endpoint_info: dict[str, Any] | None) -> None:
        self._endpoint_info = endpoint_info


def _dispatch(plugin: Any, action: str, deployment_info: dict[str, Any] | None,
              endpoint_info: dict[str, Any] | None, scale_info: dict[str, Any] | None) -> Any:
    if action == A.MONITORING_SCALE:
        replicas = (scale_info or {}).get("replicas")
        return plugin.monitoring_scale(None if replicas is None else int(replicas))
    if action == A.PLUGIN_START:
        return plugin.plugin_start()
    if action == A.PLUGIN_STOP:
        return plugin.plugin_stop()
    if action == A.DEPLOYMENT_LIST:
        return plugin.deployment_list()
    if action == A.PE_STATUS:
        return plugin.pe_status()
    if action in (A.ENDPOINT_UPDATE, A.ENDPOINT_STATUS):
        plugin._set_endpoint_info(endpoint_info)
        info = EndpointInfo(endpoint_info)  # type: ignore[arg-type]  # None fails here, naming the section
        return plugin.endpoint_update(info) if action == A.ENDPOINT_UPDATE else plugin.endpoint_status(info)
    if action not in A.SUPPORTED:
        raise ValueError(f"Action is not supported: {action}")  # DataRobot's wording
    if deployment_info is None:
        raise ValueError(f"action {action} needs deploymentInfo in the action config")
    plugin._set_deployment_info(deployment_info)
    if action == A.DEPLOYMENT_STOP:
        return plugin.deployment_stop(str(deployment_info["id"]))
    deployment = DeploymentInfo(deployment_info)
    if action == A.DEPLOYMENT_TRAFFIC_UPDATE:
        return plugin.deployment_traffic_update(deployment, dict(deployment_info.get("traffic") or {}))
    if action == A.DEPLOYMENT_SCALE:
        # DataRobot's own plugin base has no such method: the default answers unsupported for it too.
        own = getattr(plugin, "deployment_scale", None)
        return own(deployment) if callable(own) else BosunPluginBase.deployment_scale(plugin, deployment)
    if action == A.DEPLOYMENT_START:
        return plugin.deployment_start(deployment)
    if action == A.DEPLOYMENT_REPLACE_MODEL:
        return plugin.deployment_replace_model(deployment)
    if action == A.DEPLOYMENT_STATUS:
        return plugin.deployment_status(deployment)
    return plugin.deployment_relaunch(deployment)


def as_status(result: object, action: str) -> ActionStatusInfo:
    """Return an action's result as our ActionStatusInfo; DataRobot's own class (a real datarobot-bosun) converts."""
    if isinstance(result, ActionStatusInfo):
        return result
    to_dict = getattr(result, "to_dict", None)
    if callable(to_dict) and type(result).__name__ == "ActionStatusInfo":
        values = to_dict()
        if isinstance(values, dict) and ActionStatus.is_valid(values.get("status")):
            status = ActionStatusInfo.from_dict(values)
            for key, value in values.items():  # keep what the plugin added, as DataRobot's status file would
                if key not in ("status", "msg", "state", "duration", "timestamp", "data"):
                    setattr(status, key, value)
            return status
    # DataRobot's wording, so a plugin's status file reads the same under either runner.
    raise TypeError(f"Action {action} provide - did not return ActionStatusInfo object")


def execute_action(plugin: Any, action: str, deployment_info: dict[str, Any] | None = None,
                   endpoint_info: dict[str, Any] | None = None,
                   scale_info: dict[str, Any] | None = None) -> ActionStatusInfo:
    """Run one action on a plugin instance; record its duration; turn any failure into a failing status."""
    start = time.monotonic()
    name = type(plugin).__name__
    try:
        status = as_status(_dispatch(plugin, action, deployment_info, endpoint_info, scale_info), action)
    except ActionInterrupted as exc:
        status = failed(f"action {action} of plugin {name} was {exc} after "
                        f"{time.monotonic() - start:.1f}s; it did not finish")
        log.error(status.msg)
    except (Exception, SystemExit) as exc:
        # DataRobot's runner reports exactly this message; plugins' users and tools match on it.
        status = failed(f"Exception occurred while running action {action} : error {exc}")
        log.error("%s (plugin %s raised %s; the traceback is logged at debug level)", status.msg, name,
                  type(exc).__name__)
        log.debug("%s", traceback.format_exc())
    status.set_duration(round(time.monotonic() - start, 4))
    return status
