"""The test plugin: sleeps instead of deploying and records each deployment in a YAML file.

Statuses, states, messages and data are those of DataRobot's test plugin on the same inputs. Ours also takes its
settings from pluginConfig and YAML private configs (DataRobot's reads a JSON private config only), writes its
files atomically, accepts bare deployment ids in pe_status, and names the pe file after peInfo.id when
pluginConfig has no MLOPS_BOSUN_PRED_ENV_ID.
"""
from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any, ClassVar

import yaml

from bosun_local.plugins.framework.action_status import ActionDataFields, ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.atomic_fs import write_text_atomic
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase
from bosun_local.plugins.framework.constants import BosunPluginConfigConstants, DeploymentState
from bosun_local.plugins.framework.deployment_info import DeploymentInfo
from bosun_local.plugins.framework.endpoint_info import EndpointInfo

_DEPLOYMENT_FILE = "deployment_"


class BosunTestPlugin(BosunPluginBase):
    """Exercise the agent without a real environment: each action sleeps, then writes or reads a file."""

    CONFIG_FILE_ENTRY = "config_file"
    DEFAULT_SETTINGS: ClassVar[dict[str, Any]] = {
        "tmp_dir": "/tmp",
        "launch_time_sec": 10,
        "stop_time_sec": 8,
        "replace_model_time_sec": 10,
        "pe_status_time_sec": 3,
        "deployment_status_time_sec": 2,
        "deployment_list_time_sec": 2,
        "plugin_start_time": 5,
        "plugin_stop_time": 5,
        "raise_exception": False,
        "assert_has_api_token": False,
    }

    def __init__(self, plugin_config: dict[str, Any] | None, private_config_file: str | None = None,
                 pe_info: dict[str, Any] | None = None, dry_run: bool = False) -> None:
        super().__init__(plugin_config, private_config_file, pe_info, dry_run)
        self.config = self.settings()
        self.tmp_dir = Path(self.config["tmp_dir"]).expanduser()

    def _sleep(self, key: str) -> None:
        seconds = float(self.config[key])
        self._logger.info("sleeping %ss (%s)", seconds, key)
        time.sleep(max(seconds, 0.0))

    def _raise_exception_if_set(self) -> None:
        if self.config["raise_exception"]:
            raise RuntimeError("Bosun Test plugin is raising an exception")

    def _pe_file(self) -> Path:
        pe_id = self._plugin_config.get(BosunPluginConfigConstants.MLOPS_BOSUN_PRED_ENV_ID_KEY) or (
            self.pe_info.id if self.pe_info else None)
        if not pe_id:
            raise ValueError("the test plugin needs pluginConfig.MLOPS_BOSUN_PRED_ENV_ID (or peInfo.id) "
                             "to name its pe_<id>.yaml file")
        return self.tmp_dir / f"pe_{pe_id}.yaml"

    def _deployment_file(self, deployment_id: str) -> Path:
        return self.tmp_dir / f"{_DEPLOYMENT_FILE}{deployment_id}.yaml"

    @staticmethod
    def _content(di: DeploymentInfo) -> dict[str, Any]:
        content = {
            "name": di.name,
            "model_id": di.model_id,
            "key_value_config": di.kv_config,
            "model_execution_type": di.model_execution_type,
            "model_artifact": str(di.model_artifact),
            "state": "running",
        }
        if di.new_model_id:
            content["new_model_id"] = di.new_model_id
        return content

    def _deployment_status(self, deployment_id: str) -> ActionStatusInfo:
        path = self._deployment_file(deployment_id)
        try:
            content = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            return ActionStatusInfo(ActionStatus.ERROR, msg="Deployment not found", state=DeploymentState.ERROR)
        content["status_timestamp"] = datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat()
        write_text_atomic(path, yaml.safe_dump(content))
        return ActionStatusInfo(ActionStatus.OK, msg="Deployment health looks good", state=DeploymentState.READY,
                                data={ActionDataFields.CURRENT_MODEL_ID: content.get("model_id")})

    def plugin_start(self) -> ActionStatusInfo:
        self._raise_exception_if_set()
        if self.config["assert_has_api_token"]:
            if not self._plugin_config.get(BosunPluginConfigConstants.MLOPS_API_TOKEN_KEY):
                raise RuntimeError("MLOps API token was not passed to plugin by Bosun Agent")
            if not self._plugin_config.get(BosunPluginConfigConstants.MLOPS_URL_KEY):
                raise RuntimeError("MLOps URL token was not passed to plugin by Bosun Agent")
        self._sleep("plugin_start_time")
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self._pe_file(), yaml.safe_dump({"state": "running"}))
        return ActionStatusInfo(ActionStatus.OK)

    def plugin_stop(self) -> ActionStatusInfo:
        self._raise_exception_if_set()
        self._sleep("plugin_stop_time")
        self._pe_file().unlink(missing_ok=True)
        return ActionStatusInfo(ActionStatus.OK)

    def deployment_start(self, di: DeploymentInfo) -> ActionStatusInfo:
        self._raise_exception_if_set()
        self._sleep("launch_time_sec")
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self._deployment_file(di.id), yaml.safe_dump(self._content(di)))
        return ActionStatusInfo(ActionStatus.OK, msg="Launch successful", state=DeploymentState.READY)

    def deployment_stop(self, deployment_id: str) -> ActionStatusInfo:
        self._raise_exception_if_set()
        self._deployment_file(deployment_id).unlink(missing_ok=True)
        self._sleep("stop_time_sec")
        return ActionStatusInfo(ActionStatus.OK, msg="Stop Successful", state=DeploymentState.STOPPED)

    def deployment_replace_model(self, di: DeploymentInfo) -> ActionStatusInfo:
        self._sleep("replace_model_time_sec")
        path = self._deployment_file(di.id)
        try:
            self._raise_exception_if_set()
            content = self._content(di)
            if "new_model_id" in content:
                content["model_id"] = content["new_model_id"]
            write_text_atomic(path, yaml.safe_dump(content))
        except Exception:
            if path.exists() and (yaml.safe_load(path.read_text()) or {}).get("model_id") != di.model_id:
                return ActionStatusInfo(ActionStatus.ERROR, msg="Failed to replace model, continuing with old one",
                                        state=DeploymentState.ERROR, data={ActionDataFields.OLD_MODEL_IN_USE: True})
            raise
        return ActionStatusInfo(ActionStatus.OK, msg=f"Model replaced successfully Path: {di.model_artifact}",
                                state=DeploymentState.READY)

    def pe_status(self) -> ActionStatusInfo:
        self._raise_exception_if_set()
        self._sleep("pe_status_time_sec")
        pe_file = self._pe_file()
        if not pe_file.exists():
            return ActionStatusInfo(ActionStatus.ERROR, msg="PE not found")
        content = yaml.safe_load(pe_file.read_text()) or {}
        content["status_timestamp"] = datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat()
        write_text_atomic(pe_file, yaml.safe_dump(content))
        ids = self.pe_info.deployment_ids if self.pe_info else []
        statuses = {i: self._deployment_status(i).to_dict() for i in ids}
        return ActionStatusInfo(ActionStatus.OK, msg="PE Health looks awesome",
                                data={ActionDataFields.DEPLOYMENTS_STATUS: statuses})

    def deployment_status(self, di: DeploymentInfo) -> ActionStatusInfo:
        self._raise_exception_if_set()
        self._sleep("deployment_status_time_sec")
        return self._deployment_status(di.id)

    def deployment_list(self) -> ActionStatusInfo:
        self._raise_exception_if_set()
        self._sleep("deployment_list_time_sec")
        data = {}
        for path in sorted(self.tmp_dir.glob(f"{_DEPLOYMENT_FILE}*.yaml")):
            data[path.name[len(_DEPLOYMENT_FILE):-len(".yaml")]] = yaml.safe_load(path.read_text())
        return ActionStatusInfo(ActionStatus.OK, msg="Deployment list", data=data)

    def endpoint_update(self, endpoint_info: EndpointInfo) -> ActionStatusInfo:
        if endpoint_info is None or self._endpoint_info is None:
            raise ValueError("endpoint_update needs endpointInfo in the action config")
        return ActionStatusInfo(ActionStatus.OK, msg="Endpoint update successful", state=DeploymentState.READY)

    def endpoint_status(self, endpoint_info: EndpointInfo) -> ActionStatusInfo:
        if endpoint_info is None or self._endpoint_info is None:
            raise ValueError("endpoint_status needs endpointInfo in the action config")
        return ActionStatusInfo(ActionStatus.OK, msg="Endpoint status looks good", state=DeploymentState.READY)

    @classmethod
    def sample_plugin_config(cls) -> dict[str, Any]:
        """Return test settings with no sleeps, so a generated config runs at once."""
        sample = {key: 0 for key in cls.DEFAULT_SETTINGS if key.endswith(("_sec", "_time"))}
        return {"tmp_dir": "./test-plugin-state", **sample, "raise_exception": False}
