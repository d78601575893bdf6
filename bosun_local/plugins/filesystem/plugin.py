"""The filesystem plugin: one directory per deployment under baseDir, the layout the PPS multi-model mode serves."""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import yaml

from bosun_local.plugins.framework.action_status import ActionDataFields, ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.atomic_fs import TMP_PREFIX, install_dir, remove_dir, remove_stale_tmp, tmp_sibling
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase
from bosun_local.plugins.framework.constants import DeploymentState
from bosun_local.plugins.framework.deployment_info import DeploymentInfo

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class FilesystemPlugin(BosunPluginBase):
    """Copy each deployment's model package into baseDir/<deploymentDirPrefix><id>/ with a config.yml."""

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
        settings = self.settings()
        self.base_dir = Path(settings["baseDir"]).expanduser()
        self.prefix: str = settings["deploymentDirPrefix"]
        self.info_file: str = settings["deploymentInfoFile"]
        self.prediction_base_url: str = settings["deploymentPredictionBaseUrl"] or ""
        self.kv_file: str = settings["deploymentKVFile"] or ""

    # -- helpers ---------------------------------------------------------------------------------

    def deployment_dir(self, deployment_id: str) -> Path:
        """Return the directory of one deployment."""
        if not _SAFE_ID.match(deployment_id):
            raise ValueError(f"deployment id {deployment_id!r} cannot name a directory: "
                             "use letters, digits, '_', '.' and '-' only")
        return self.base_dir / f"{self.prefix}{deployment_id}"

    def _prediction_data(self, deployment_id: str, model_id: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.prediction_base_url:
            base = self.prediction_base_url.rstrip("/")
            data[ActionDataFields.PREDICTION_URL] = f"{base}/deployments/{deployment_id}/predictions"
        if model_id:
            data[ActionDataFields.CURRENT_MODEL_ID] = model_id
        return data

    def _base_problem(self) -> str | None:
        """Return why baseDir cannot hold deployments, or None when it can."""
        if not self.base_dir.exists():
            return f"baseDir {self.base_dir} does not exist (create it, or set baseDir to an existing directory)"
        if not self.base_dir.is_dir():
            return f"baseDir {self.base_dir} is not a directory"
        try:  # a real write: permission bits say nothing on read-only mounts or for root
            with tempfile.NamedTemporaryFile(dir=self.base_dir, prefix=TMP_PREFIX):
                pass
        except OSError as exc:
            return f"baseDir {self.base_dir} is not writable: {exc.strerror}"
        return None

    def _build_dir(self, di: DeploymentInfo, target: Path) -> Path:
        """Write the complete deployment dir aside and return it; the caller installs it."""
        artifact = di.model_artifact
        if artifact is None:
            raise ValueError(f"deployment {di.id}: deploymentInfo.modelArtifact is not set; "
                             "the filesystem plugin copies the model package from it")
        if not artifact.exists():
            raise FileNotFoundError(f"deployment {di.id}: modelArtifact {artifact} does not exist")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        new = tmp_sibling(target)
        try:
            if artifact.is_dir():
                shutil.copytree(artifact, new, symlinks=False)
            else:
                new.mkdir()
                shutil.copy2(artifact, new / artifact.name)
            if (new / self.info_file).exists():
                self._logger.warning("model artifact %s holds a %s; the deployment info replaces it",
                                     artifact, self.info_file)
            info = {"deployment_id": di.id, "model_id": di.current_model_id}
            (new / self.info_file).write_text(yaml.safe_dump(info, sort_keys=False))
            if self.kv_file:
                (new / self.kv_file).write_text(yaml.safe_dump(di.kv_config, sort_keys=False))
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

    def _inspect(self, deployment_id: str, expected_model: str | None = None) -> ActionStatusInfo:
        """Check one deployment dir: present, info file naming it, a model artifact next to it."""
        try:
            target = self.deployment_dir(deployment_id)
        except ValueError as exc:
            return ActionStatusInfo(ActionStatus.ERROR, msg=str(exc), state=DeploymentState.UNKNOWN)
        if not target.is_dir():
            return ActionStatusInfo(ActionStatus.ERROR, msg=f"deployment {deployment_id} has no directory {target}",
                                    state=DeploymentState.STOPPED)
        info_path = target / self.info_file
        try:
            info = yaml.safe_load(info_path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR,
                                    msg=f"deployment {deployment_id}: cannot read {info_path}: {exc}")
        if not isinstance(info, dict) or str(info.get("deployment_id")) != deployment_id or not info.get("model_id"):
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR,
                                    msg=f"deployment {deployment_id}: {info_path} does not name this deployment "
                                        f"and its model (expected deployment_id and model_id keys)")
        model_id = str(info["model_id"])
        artifacts = [p for p in target.iterdir() if p.name not in (self.info_file, self.kv_file)]
        data = self._prediction_data(deployment_id, model_id)
        if not artifacts:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR, data=data,
                                    msg=f"deployment {deployment_id}: {target} holds no model artifact")
        if expected_model and model_id != expected_model:
            return ActionStatusInfo(ActionStatus.WARN, state=DeploymentState.READY, data=data,
                                    msg=f"deployment {deployment_id} runs model {model_id}, expected {expected_model}")
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY, data=data,
                                msg=f"deployment {deployment_id} ready with model {model_id} in {target}")

    def _deployment_ids(self) -> list[str]:
        if not self.base_dir.is_dir():
            return []
        ids = []
        for entry in sorted(self.base_dir.iterdir()):
            name = entry.name
            if entry.is_dir() and not name.startswith(".") and name.startswith(self.prefix) and name != self.prefix:
                ids.append(name[len(self.prefix):])
        return ids

    # -- actions ---------------------------------------------------------------------------------

    def plugin_start(self) -> ActionStatusInfo:
        problem = self._base_problem()
        if problem:
            return ActionStatusInfo(ActionStatus.ERROR, msg=problem)
        removed = [] if self.dry_run else remove_stale_tmp(self.base_dir)
        extra = f"; removed {len(removed)} leftovers of interrupted actions" if removed else ""
        return ActionStatusInfo(ActionStatus.OK, msg=f"baseDir {self.base_dir} is ready{extra}")

    def plugin_stop(self) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK, msg="filesystem plugin stopped: deployment dirs are kept")

    def pe_status(self) -> ActionStatusInfo:
        problem = self._base_problem()
        if problem:
            return ActionStatusInfo(ActionStatus.ERROR, msg=problem)
        ids = self.pe_info.deployment_ids if self.pe_info else self._deployment_ids()
        statuses = {i: self._inspect(i).to_dict() for i in ids}
        return ActionStatusInfo(ActionStatus.OK, msg=f"baseDir {self.base_dir} is writable; "
                                                     f"{len(statuses)} deployments checked",
                                data={ActionDataFields.DEPLOYMENTS_STATUS: statuses})

    def deployment_list(self) -> ActionStatusInfo:
        ids = self._deployment_ids()
        data = {i: self._inspect(i).to_dict() for i in ids}
        return ActionStatusInfo(ActionStatus.OK, msg=f"{len(ids)} deployments in {self.base_dir}", data=data)

    def deployment_start(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        di = deployment_info
        target = self.deployment_dir(di.id)
        if self.dry_run:
            return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would copy {di.model_artifact} into {target}",
                                    data=self._prediction_data(di.id, di.current_model_id))
        self._install(di, target)
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY,
                                msg=f"deployment {di.id} started with model {di.current_model_id} in {target}",
                                data=self._prediction_data(di.id, di.current_model_id))

    def deployment_stop(self, deployment_id: str) -> ActionStatusInfo:
        target = self.deployment_dir(deployment_id)
        if self.dry_run:
            return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would remove {target}")
        removed = remove_dir(target)
        msg = f"removed {target}" if removed else f"deployment {deployment_id} was not running: no {target}"
        return ActionStatusInfo(ActionStatus.OK, msg=msg, state=DeploymentState.STOPPED)

    def deployment_replace_model(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        di = deployment_info
        target = self.deployment_dir(di.id)
        if not target.is_dir():
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.STOPPED,
                                    msg=f"deployment {di.id} is not running (no {target}); start it instead",
                                    data={ActionDataFields.OLD_MODEL_IN_USE: False})
        if self.dry_run:
            return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would replace {target} with "
                                                         f"{di.model_artifact} (model {di.current_model_id})")
        try:
            self._install(di, target)
        except Exception as exc:
            old = self._inspect(di.id)
            data = {**(old.data or {}), ActionDataFields.OLD_MODEL_IN_USE: True}
            return ActionStatusInfo(ActionStatus.ERROR, state=old.state, data=data,
                                    msg=f"model replacement failed, deployment {di.id} keeps its old model: {exc}")
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY,
                                msg=f"deployment {di.id} now runs model {di.current_model_id}",
                                data=self._prediction_data(di.id, di.current_model_id))

    def deployment_status(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        return self._inspect(deployment_info.id, deployment_info.current_model_id)

    @classmethod
    def sample_plugin_config(cls) -> dict[str, Any]:
        """Return the documented filesystem settings with a local prediction URL."""
        return {**cls.DEFAULT_SETTINGS, "deploymentPredictionBaseUrl": "http://127.0.0.1:8080"}
