"""A third-party plugin as small as one can be: each deployment is a marker file in pluginConfig stateDir.

It is registered by the one line in bosun_example_plugin-0.1.dist-info/entry_points.txt; nothing in bosun_local
names it, yet `--plugin example` loads it and the service accepts `platform: example`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from bosun_local.plugins import ActionStatus, ActionStatusInfo, BosunPluginBase, DeploymentInfo, DeploymentState


class ExamplePlugin(BosunPluginBase):
    """Write `<stateDir>/<deployment id>` holding the model id; pe_status judges every deployment by it."""

    DEFAULT_SETTINGS: ClassVar[dict[str, Any]] = {"stateDir": "./example-plugin-state"}

    def _dir(self) -> Path:
        path = Path(self.settings()["stateDir"])
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _status(self, deployment_id: str) -> ActionStatusInfo:
        marker = self._dir() / deployment_id
        if not marker.exists():
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.STOPPED, msg=f"no {marker}")
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY, msg=f"serves {marker.read_text()}",
                                data={"currentModelId": marker.read_text()})

    def plugin_start(self) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK, msg=f"state in {self._dir()}")

    def plugin_stop(self) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK)

    def deployment_list(self) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK, data={p.name: self._status(p.name).to_dict()
                                                       for p in sorted(self._dir().iterdir())})

    def deployment_start(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        (self._dir() / deployment_info.id).write_text(deployment_info.current_model_id)
        return self._status(deployment_info.id)

    def deployment_stop(self, deployment_id: str) -> ActionStatusInfo:
        (self._dir() / deployment_id).unlink(missing_ok=True)
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.STOPPED)

    def deployment_replace_model(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        return self.deployment_start(deployment_info)

    def pe_status(self) -> ActionStatusInfo:
        ids = self.pe_info.deployment_ids if self.pe_info else []
        return ActionStatusInfo(ActionStatus.OK, data={"deploymentsStatus": {i: self._status(i).to_dict()
                                                                             for i in ids}})

    def deployment_status(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        return self._status(deployment_info.id)
