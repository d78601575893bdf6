"""A custom plugin as users write one: a .py file the agent runs through `bosun-plugin-runner --plugin FILE`."""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from bosun_local.plugins import ActionStatus, ActionStatusInfo, BosunPluginBase, DeploymentInfo, DeploymentState


class NotesPlugin(BosunPluginBase):
    """Write one note per deployment (its model and the process that wrote it) into pluginConfig outDir."""

    def _dir(self) -> Path:
        return Path(self._plugin_config["outDir"])

    def _note(self, deployment_id: str) -> Path:
        return self._dir() / f"{deployment_id}.yaml"

    def _url(self, deployment_id: str) -> str:
        return f"http://notes.invalid/deployments/{deployment_id}/predictions"

    def plugin_start(self) -> ActionStatusInfo:
        self._dir().mkdir(parents=True, exist_ok=True)
        return ActionStatusInfo(ActionStatus.OK, msg=f"notes go to {self._dir()}")

    def plugin_stop(self) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK)

    def deployment_list(self) -> ActionStatusInfo:
        ids = sorted(p.stem for p in self._dir().glob("*.yaml"))
        return ActionStatusInfo(ActionStatus.OK, data={i: {"status": "passing", "state": "ready"} for i in ids})

    def deployment_start(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        self._dir().mkdir(parents=True, exist_ok=True)
        note = {"modelId": deployment_info.current_model_id, "artifact": str(deployment_info.model_artifact),
                "pid": os.getpid()}
        self._note(deployment_info.id).write_text(yaml.safe_dump(note))
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY, msg="note written",
                                data={"predictionUrl": self._url(deployment_info.id)})

    def deployment_stop(self, deployment_id: str) -> ActionStatusInfo:
        self._note(deployment_id).unlink(missing_ok=True)
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.STOPPED, msg="note removed")

    def deployment_replace_model(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        return self.deployment_start(deployment_info)

    def deployment_status(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        if self._note(deployment_info.id).exists():
            return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY)
        return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.STOPPED, msg="no note")

    def pe_status(self) -> ActionStatusInfo:
        # Like many simple plugins: no per-deployment statuses here, so the agent asks deployment_status.
        return ActionStatusInfo(ActionStatus.OK, msg=f"{self._dir()} exists: {self._dir().is_dir()}")
