"""The filesystem plugin: one directory per deployment under baseDir, the layout the PPS multi-model mode serves.

Statuses, states, messages and data keys are those of DataRobot's filesystem plugin on the same inputs. Documented
differences (README "Writing a plugin"): the prediction URL is `<base>/deployments/<id>/predictions` (our PPS and
traefik route by deployment id, not by directory name); a model package may be a directory as well as a file;
start and replace build the new directory aside and swap it in, so a failed replace keeps the old model
(`oldModelInUse`); pe_status accepts bare deployment ids; the artifact check applies only to formats with a suffix.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import yaml

from bosun_local.plugins.compat.model_connector_constants import ModelPackageConstants
from bosun_local.plugins.deployment_values import prediction_url
from bosun_local.plugins.framework.action_status import ActionDataFields, ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.atomic_fs import TMP_PREFIX, install_dir, remove_dir, remove_stale_tmp, tmp_sibling
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase
from bosun_local.plugins.framework.constants import (
    BosunPluginConfigConstants,
    DeploymentInfoConfigConstants,
    DeploymentState,
)
from bosun_local.plugins.framework.deployment_info import DeploymentInfo
from bosun_local.plugins.framework.endpoint_info import EndpointInfo  # noqa: F401  (DataRobot's module offers it)

_MONITORING = BosunPluginConfigConstants.MLOPS_BOSUN_PRED_ENV_ENABLE_MONITORING_KEY


class FSPluginConfig:
    """The filesystem plugin's settings, under DataRobot's key names."""

    BASE_DIR_KEY = "baseDir"
    DEPLOYMENT_DIR_PREFIX_KEY = "deploymentDirPrefix"
    DEPLOYMENT_INFO_FILE = "deploymentInfoFile"
    DEPLOYMENT_PREDICTION_BASE_URL = "deploymentPredictionBaseUrl"
    DEPLOYMENT_KV_FILE = "deploymentKVFile"

    def __init__(self, plugin_config: dict[str, Any]) -> None:
        self._config = plugin_config

    @property
    def deployment_info_fields(self) -> list[str]:
        return ["deployment_id", "model_id"]

    @property
    def base_dir(self) -> str:
        return str(self._config[FSPluginConfig.BASE_DIR_KEY])

    @property
    def prediction_base_url(self) -> str:
        return str(self._config[FSPluginConfig.DEPLOYMENT_PREDICTION_BASE_URL] or "")

    @property
    def deployment_dir_prefix(self) -> str:
        return str(self._config[FSPluginConfig.DEPLOYMENT_DIR_PREFIX_KEY])

    @property
    def deployment_info_file(self) -> str:
        return str(self._config[FSPluginConfig.DEPLOYMENT_INFO_FILE])

    @property
    def deployment_kv_file(self) -> str | None:
        return self._config.get(FSPluginConfig.DEPLOYMENT_KV_FILE) or None


class FilesystemPlugin(BosunPluginBase):
    """Copy each deployment's model package into baseDir/<deploymentDirPrefix><id>/ with its info file."""

    DEFAULT_SETTINGS: ClassVar[dict[str, Any]] = {
        "baseDir": ".",
        "deploymentDirPrefix": "deployment_",
        "deploymentInfoFile": "config.yml",
        "deploymentPredictionBaseUrl": "",
        "deploymentKVFile": "",
    }

    def __init__(self, plugin_config: dict[str, Any] | None, private_config_file: str | None = None,
                 pe_info: dict[str, Any] | None = None, dry_run: bool = False) -> None:
        super().__init__(plugin_config, private_config_file, pe_info, dry_run)
        self._config = FSPluginConfig(self.settings())
        if self._plugin_config.get(_MONITORING):
            self._logger.warning("Model monitoring is enabled for this PE but ignored by this plugin")
        self.base_dir = Path(self._config.base_dir).expanduser()
        self.prefix = self._config.deployment_dir_prefix
        self.info_file = self._config.deployment_info_file
        self.kv_file = self._config.deployment_kv_file or ""

    # -- helpers ---------------------------------------------------------------------------------

    def deployment_dir(self, deployment_id: str) -> Path:
        """Return the directory of one deployment."""
        if not deployment_id or "/" in deployment_id or deployment_id.startswith(".") or "\0" in deployment_id:
            raise ValueError(f"deployment id {deployment_id!r} cannot name a directory: "
                             "use letters, digits, '_', '.' and '-' only")
        return self.base_dir / f"{self.prefix}{deployment_id}"

    def _shown(self, path: Path) -> str:
        """Return a deployment dir as DataRobot's messages show it: with a trailing separator."""
        return os.path.join(str(path), "")

    def _prediction_url(self, deployment_id: str) -> str:
        return prediction_url(self._config.prediction_base_url, deployment_id)

    def _check_base_dir(self) -> ActionStatusInfo:
        """Return passing "all ok" when baseDir can hold deployments, else failing saying why."""
        base = self._config.base_dir
        if not self.base_dir.exists():
            return ActionStatusInfo(ActionStatus.ERROR, msg=f"Unable to detect folder: {base}")
        if not self.base_dir.is_dir():
            return ActionStatusInfo(ActionStatus.ERROR, msg=f"Provided folder '{base}' - is not a directory")
        try:  # a real write: permission bits say nothing on read-only mounts or for root
            with tempfile.NamedTemporaryFile(dir=self.base_dir, prefix=TMP_PREFIX):
                pass
        except OSError:
            return ActionStatusInfo(ActionStatus.ERROR, msg=f"Provided folder '{base}' - is not write accessible")
        return ActionStatusInfo(ActionStatus.OK, msg="all ok")

    def _build_dir(self, di: DeploymentInfo, target: Path) -> Path:
        """Write the complete deployment dir aside and return it; the caller installs it."""
        artifact = di.model_artifact
        if artifact is None:
            raise ValueError(f"deployment {di.id}: deploymentInfo.modelArtifact is not set; "
                             "the filesystem plugin copies the model package from it")
        if not artifact.exists():
            raise FileNotFoundError(2, "No such file or directory", str(artifact))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        new = tmp_sibling(target)
        try:
            if artifact.is_dir():
                shutil.copytree(artifact, new, symlinks=False)
            else:
                new.mkdir()
                shutil.copyfile(artifact, new / artifact.name)
            if (new / self.info_file).exists():
                self._logger.warning("model artifact %s holds a %s; the deployment info replaces it",
                                     artifact, self.info_file)
            info = {"deployment_id": di.id, "model_id": di.current_model_id}
            (new / self.info_file).write_text(yaml.safe_dump(info, default_flow_style=False))
            if self.kv_file:
                (new / self.kv_file).write_text(yaml.safe_dump(di.kv_config, default_flow_style=False))
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        return new

    def _install(self, di: DeploymentInfo, target: Path) -> None:
        new = self._build_dir(di, target)
        try:
            install_dir(new, target)
        finally:
            if new.exists():
                shutil.rmtree(new, ignore_errors=True)

    def _deployment_status(self, target: Path, model_format: str | None = None,
                           model_execution_type: str | None = None) -> ActionStatusInfo:
        """Check one deployment dir: present, a model artifact of its format, an info file naming its model."""
        if not target.exists():
            return ActionStatusInfo(ActionStatus.ERROR, msg=f"No deployment dir: {self._shown(target)}",
                                    state=DeploymentState.ERROR)
        suffix = DeploymentInfoConfigConstants.model_artifact_suffix(model_format)
        if suffix and model_execution_type == ModelPackageConstants.MODEL_EXECUTION_DEDICATED:
            if len(list(target.glob(f"*.{suffix}"))) != 1:
                return ActionStatusInfo(ActionStatus.ERROR, msg="Missing model artifact", state=DeploymentState.ERROR)
        info_path = target / self.info_file
        if not info_path.exists():
            return ActionStatusInfo(ActionStatus.ERROR, msg=f"No deployment info file: {info_path}",
                                    state=DeploymentState.ERROR)
        try:
            info = yaml.safe_load(info_path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            return ActionStatusInfo(ActionStatus.ERROR, msg=f"Unreadable deployment info file {info_path}: {exc}",
                                    state=DeploymentState.ERROR)
        missing = [f for f in self._config.deployment_info_fields if not isinstance(info, dict) or f not in info]
        if missing:
            return ActionStatusInfo(ActionStatus.ERROR, msg=f"Invalid config file, missing fields: {missing}",
                                    state=DeploymentState.ERROR)
        if not any(p.name not in (self.info_file, self.kv_file) for p in target.iterdir()):
            # Ours only: DataRobot checks for an artifact only for formats with a suffix (.mlpkg, .jar).
            return ActionStatusInfo(ActionStatus.ERROR, msg="Missing model artifact", state=DeploymentState.ERROR)
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY,
                                data={ActionDataFields.CURRENT_MODEL_ID: info["model_id"]})

    def _deployment_ids(self) -> list[str]:
        if not self.base_dir.is_dir():
            return []
        return [entry.name[len(self.prefix):] for entry in sorted(self.base_dir.iterdir())
                if entry.name.startswith(self.prefix) and not entry.name.startswith(TMP_PREFIX)
                and entry.name != self.prefix]

    # -- actions ---------------------------------------------------------------------------------

    def plugin_start(self) -> ActionStatusInfo:
        status = self._check_base_dir()
        if status.status == ActionStatus.OK and not self.dry_run:
            removed = remove_stale_tmp(self.base_dir)
            if removed:
                self._logger.info("removed %d leftovers of interrupted actions from %s", len(removed), self.base_dir)
        return status

    def plugin_stop(self) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK)

    def deployment_list(self) -> ActionStatusInfo:
        ids = self._deployment_ids()
        data = {i: self._deployment_status(self.deployment_dir(i)).to_dict() for i in ids}
        msg = f"Number of deployments: {len(ids)}" if ids else "No containers running"
        return ActionStatusInfo(ActionStatus.OK, msg=msg, data=data)

    def deployment_start(self, di: DeploymentInfo) -> ActionStatusInfo:
        target = self.deployment_dir(di.id)
        if self.dry_run:
            return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would copy {di.model_artifact} into {target}")
        self._install(di, target)
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY,
                                data={ActionDataFields.PREDICTION_URL: self._prediction_url(di.id)})

    def deployment_stop(self, deployment_id: str) -> ActionStatusInfo:
        target = self.deployment_dir(deployment_id)
        if self.dry_run:
            return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would remove {target}")
        try:
            remove_dir(target)
        except OSError as exc:
            self._logger.error("cannot remove %s: %s", target, exc)
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR)
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.STOPPED)

    def deployment_replace_model(self, di: DeploymentInfo) -> ActionStatusInfo:
        target = self.deployment_dir(di.id)
        if not target.is_dir():
            self._logger.error("deployment %s is not running (no %s): nothing to replace", di.id, target)
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR)
        if self.dry_run:
            return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would replace {target} with "
                                                         f"{di.model_artifact} (model {di.current_model_id})")
        try:
            self._install(di, target)
        except Exception as exc:
            old = self._deployment_status(target)
            data = {**(old.data or {}), ActionDataFields.OLD_MODEL_IN_USE: True}
            return ActionStatusInfo(ActionStatus.ERROR, state=old.state, data=data,
                                    msg=f"model replacement failed, deployment {di.id} keeps its old model: {exc}")
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY)

    def deployment_status(self, di: DeploymentInfo) -> ActionStatusInfo:
        status = self._deployment_status(self.deployment_dir(di.id), di.model_format, di.model_execution_type)
        running = (status.data or {}).get(ActionDataFields.CURRENT_MODEL_ID)
        if status.status == ActionStatus.OK and running is not None and str(running) != di.current_model_id:
            # Ours only: a replace that did not take shows up, instead of passing as if it had.
            status.status = ActionStatus.WARN
            status.msg = f"deployment {di.id} runs model {running}, expected {di.current_model_id}"
        return status

    def pe_status(self) -> ActionStatusInfo:
        status = self._check_base_dir()
        if status.status != ActionStatus.OK:
            return status
        statuses: dict[str, Any] = {}
        if self.pe_info is not None:
            infos = {di.id: di for di in self.pe_info.deployments}
            for deployment_id in self.pe_info.deployment_ids:
                di = infos.get(deployment_id)
                one = self._deployment_status(self.deployment_dir(deployment_id), di.model_format if di else None,
                                              di.model_execution_type if di else None)
                statuses[deployment_id] = one.to_dict()
        if statuses:
            status.data = {ActionDataFields.DEPLOYMENTS_STATUS: statuses}
        return status

    @classmethod
    def sample_plugin_config(cls) -> dict[str, Any]:
        """Return the documented filesystem settings with a local prediction URL."""
        return {**cls.DEFAULT_SETTINGS, "deploymentPredictionBaseUrl": "http://127.0.0.1:8080"}
