"""The test plugin: sleeps instead of deploying and records each deployment in a YAML file."""
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

_DEPLOYMENT_FILE = "deployment_"


class BosunTestPlugin(BosunPluginBase):
    """Exercise the agent without a real environment: each action sleeps, then writes or reads a file."""

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
            raise RuntimeError("Bosun test plugin is raising an exception (raise_exception is set)")

    def _pe_file(self) -> Path:
        pe_id = self.pe_info.id if self.pe_info else self._plugin_config.get(BosunPluginConfigConstants.MLOPS_PE_ID_KEY)
        if not pe_id:
            raise ValueError("the test plugin needs peInfo.id (or pluginConfig.MLOPS_BOSUN_PRED_ENV_ID) "
                             "to name its pe_<id>.yaml file")
        return self.tmp_dir / f"pe_{pe_id}.yaml"

    def _deployment_file(self, deployment_id: str) -> Path:
        return self.tmp_dir / f"{_DEPLOYMENT_FILE}{deployment_id}.yaml"

    def _write_deployment(self, di: DeploymentInfo) -> None:
        content = {
            "name": di.name,
            "model_id": di.current_model_id,
            "key_value_config": di.kv_config,
            "model_execution_type": di.model_execution_type,
            "model_artifact": str(di.model_artifact) if di.model_artifact else None,
            "state": "running",
        }
        write_text_atomic(self._deployment_file(di.id), yaml.safe_dump(content, sort_keys=False))

    def _status_of(self, deployment_id: str) -> ActionStatusInfo:
        path = self._deployment_file(deployment_id)
        try:
            content = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            return ActionStatusInfo(ActionStatus.ERROR, msg=f"Deployment not found: no {path}",
                                    state=DeploymentState.ERROR)
        content["status_timestamp"] = datetime.datetime.now(datetime.UTC).isoformat()
        write_text_atomic(path, yaml.safe_dump(content, sort_keys=False))
        return ActionStatusInfo(ActionStatus.OK, msg="Deployment health looks good", state=DeploymentState.READY,
                                data={ActionDataFields.CURRENT_MODEL_ID: content.get("model_id")})

    def plugin_start(self) -> ActionStatusInfo:
        self._raise_exception_if_set()
        self._sleep("plugin_start_time")
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self._pe_file(), yaml.safe_dump({"state": "running"}))
        return ActionStatusInfo(ActionStatus.OK, msg=f"test plugin started: {self._pe_file()}")

    def plugin_stop(self) -> ActionStatusInfo:
        self._raise_exception_if_set()
        self._sleep("plugin_stop_time")
        self._pe_file().unlink(missing_ok=True)
        return ActionStatusInfo(ActionStatus.OK, msg="test plugin stopped")

    def deployment_start(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        self._raise_exception_if_set()
        self._sleep("launch_time_sec")
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._write_deployment(deployment_info)
        return ActionStatusInfo(ActionStatus.OK, msg="Launch successful", state=DeploymentState.READY,
                                data={ActionDataFields.CURRENT_MODEL_ID: deployment_info.current_model_id})

    def deployment_stop(self, deployment_id: str) -> ActionStatusInfo:
        self._raise_exception_if_set()
        self._deployment_file(deployment_id).unlink(missing_ok=True)
        self._sleep("stop_time_sec")
        return ActionStatusInfo(ActionStatus.OK, msg="Stop successful", state=DeploymentState.STOPPED)

    def deployment_replace_model(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        self._sleep("replace_model_time_sec")
        if self.config["raise_exception"] and self._deployment_file(deployment_info.id).exists():
            return ActionStatusInfo(ActionStatus.ERROR, msg="Failed to replace model, continuing with old one",
                                    state=DeploymentState.ERROR, data={ActionDataFields.OLD_MODEL_IN_USE: True})
        self._raise_exception_if_set()
        self._write_deployment(deployment_info)
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY,
                                msg=f"Model replaced successfully Path: {deployment_info.model_artifact}",
                                data={ActionDataFields.CURRENT_MODEL_ID: deployment_info.current_model_id})

    def pe_status(self) -> ActionStatusInfo:
        self._raise_exception_if_set()
        self._sleep("pe_status_time_sec")
        pe_file = self._pe_file()
        if not pe_file.exists():
            return ActionStatusInfo(ActionStatus.ERROR, msg=f"PE not found: no {pe_file} (run plugin_start first)")
        content = yaml.safe_load(pe_file.read_text()) or {}
        content["status_timestamp"] = datetime.datetime.now(datetime.UTC).isoformat()
        write_text_atomic(pe_file, yaml.safe_dump(content))
        ids = self.pe_info.deployment_ids if self.pe_info else []
        statuses = {i: self._status_of(i).to_dict() for i in ids}
        return ActionStatusInfo(ActionStatus.OK, msg="PE Health looks awesome",
                                data={ActionDataFields.DEPLOYMENTS_STATUS: statuses})

    def deployment_status(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        self._raise_exception_if_set()
        self._sleep("deployment_status_time_sec")
        return self._status_of(deployment_info.id)

    def deployment_list(self) -> ActionStatusInfo:
        self._raise_exception_if_set()
        self._sleep("deployment_list_time_sec")
        files = sorted(self.tmp_dir.glob(f"{_DEPLOYMENT_FILE}*.yaml"))
        data = {}
        for path in files:
            deployment_id = path.name[len(_DEPLOYMENT_FILE):-len(".yaml")]
            data[deployment_id] = self._status_of(deployment_id).to_dict()
        return ActionStatusInfo(ActionStatus.OK, msg=f"Deployment list: {len(data)} deployments", data=data)

    @classmethod
    def sample_plugin_config(cls) -> dict[str, Any]:
        """Return test settings with no sleeps, so a generated config runs at once."""
        sample = {key: 0 for key in cls.DEFAULT_SETTINGS if key.endswith(("_sec", "_time"))}
        return {"tmp_dir": "./test-plugin-state", **sample, "raise_exception": False}
