"""The in-process API the management agent uses, and the framework's data classes."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from plugin_helpers import DEP_ID, MODEL_A, MODEL_B, PE_ID, deployment

from bosun_local.plugins import (
    ActionConfigError,
    ActionStatus,
    ActionStatusInfo,
    BosunPluginBase,
    DeploymentInfo,
    PEInfo,
    PluginLoadError,
    execute_action,
    load_plugin_class,
    read_status_file,
    run_action,
)
from bosun_local.plugins.filesystem import FilesystemPlugin
from bosun_local.plugins.framework import registry as registry_module
from bosun_local.plugins.test import BosunTestPlugin


class Recorder(BosunPluginBase):
    """A plugin that records calls; stop fails, to show relaunch ignores it."""

    calls: list[str] = []

    def plugin_start(self) -> ActionStatusInfo:
        raise SystemExit(3)

    def plugin_stop(self) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK)

    def deployment_list(self) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK, data={"path": Path("/x"), "tuple": (1, 2)})

    def deployment_start(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        self.calls.append(f"start {deployment_info.current_model_id}")
        return ActionStatusInfo(ActionStatus.OK, state="ready")

    def deployment_stop(self, deployment_id: str) -> ActionStatusInfo:
        self.calls.append(f"stop {deployment_id}")
        return ActionStatusInfo(ActionStatus.ERROR, msg="not there")

    def deployment_replace_model(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK)

    def pe_status(self) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK)

    def deployment_status(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK)


class Exploding(Recorder):
    def __init__(self, *args: object) -> None:
        raise RuntimeError("no credentials")


def test_run_action_with_a_class_records_duration_and_relaunch_ignores_stop_errors() -> None:
    Recorder.calls.clear()
    status = run_action(Recorder, "deployment_relaunch", {"pluginConfig": {}, "deploymentInfo": deployment(
        MODEL_A, newModelId=MODEL_B)})
    assert (status.status, status.state) == ("passing", "ready")
    assert isinstance(status.duration, float) and status.duration >= 0
    assert Recorder.calls == [f"stop {DEP_ID}", f"start {MODEL_B}"]


def test_run_action_turns_every_failure_into_a_failing_status() -> None:
    status = run_action(Recorder, "plugin_start", {"pluginConfig": {}})
    assert (status.status, status.state) == ("failing", "errored")
    assert status.msg == "Exception occurred while running action plugin_start : error 3"  # DataRobot's wording
    status = run_action(Exploding, "pe_status", {"pluginConfig": {}})
    assert status.msg == "Exception occurred while loading plugin object for action pe_status: error no credentials"
    status = run_action(Recorder, "deployment_start", {"pluginConfig": {}, "deploymentInfo": {"id": "x"}})
    assert status.status == "failing" and "deploymentInfo.modelId is missing" in status.msg
    status = run_action("nonexistent/plugin.py", "pe_status", {"pluginConfig": {}})
    assert status.status == "failing" and "plugin file nonexistent/plugin.py does not exist" in status.msg
    status = execute_action(Recorder({}), "no_such_action")
    assert status.status == "failing" and "Action is not supported: no_such_action" in status.msg
    assert isinstance(status.duration, float)


def test_status_data_is_written_as_plain_yaml(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    status = Recorder({}).run_action("deployment_list", None, status_file=path)
    assert status.status == "passing"
    loaded = yaml.safe_load(path.read_text())
    assert list(loaded) == ["data", "duration", "msg", "state", "status", "timestamp"]  # DataRobot's: sorted
    assert loaded["data"] == {"path": "/x", "tuple": [1, 2]}
    again = read_status_file(path)
    assert (again.status, again.timestamp, again.data) == ("passing", loaded["timestamp"], loaded["data"])
    path.write_text("status: great\n")
    with pytest.raises(Exception, match="has no valid `status` key"):
        read_status_file(path)


def test_action_status_info_checks_its_status() -> None:
    with pytest.raises(ValueError, match="Bad Status: 'ok'"):
        ActionStatusInfo("ok")
    info = ActionStatusInfo(ActionStatus.WARN, msg="m", state="ready", data={"currentModelId": "x"})
    assert ActionStatus.to_numeric[info.status] == 2
    assert abs(info.timestamp - ActionStatusInfo(ActionStatus.OK).timestamp) < 60_000


def test_deployment_info_fields() -> None:
    info = DeploymentInfo({**deployment(MODEL_A, "/pkg"), "id": 12345, "newModelId": MODEL_B, "extra": 1,
                           "featureTypes": "/f.json", "modelName": "m"})
    assert (info.id, info.model_id, info.new_model_id, info.current_model_id) == ("12345", MODEL_A, MODEL_B, MODEL_B)
    assert (info.model_artifact, info.feature_types_path, info.model_name) == (Path("/pkg"), Path("/f.json"), "m")
    assert info.kv_config == {"tier": "gold"} and info.model_execution_type == "custom_inference_model"
    assert "extra" not in info.to_dict() and info.to_dict()["modelArtifact"] == "/pkg"
    plain = DeploymentInfo({"id": "a", "modelId": "b", "modelExecutionType": "external", "keyValueConfig": None})
    assert (plain.kv_config, plain.model_artifact, plain.current_model_id, plain.name) == ({}, None, "b", None)
    with pytest.raises(ActionConfigError) as err:
        DeploymentInfo({"id": "a", "modelId": "", "modelExecutionType": "external"})
    assert (err.value.key, err.value.message) == ("deploymentInfo.modelId", "deploymentInfo.modelId is empty")


def test_pe_info_fields() -> None:
    pe = PEInfo({"id": PE_ID, "name": "n", "deployments": ["d1", deployment()], "createdBy": "me"})
    assert (pe.id, pe.name, pe.created_by, pe.deployment_ids) == (PE_ID, "n", "me", ["d1", DEP_ID])
    assert [d.id for d in pe.deployments] == [DEP_ID] and pe.kv_config == {}
    with pytest.raises(ActionConfigError, match=r"peInfo.deployments\[1\].modelId is missing"):
        PEInfo({"id": PE_ID, "deployments": ["d1", {"id": "x", "modelExecutionType": "external"}]})


def test_builtin_aliases_and_unavailable_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_plugin_class("filesystem") is FilesystemPlugin
    assert load_plugin_class("test") is BosunTestPlugin
    assert load_plugin_class("bosun_local.plugins.filesystem") is FilesystemPlugin
    monkeypatch.setitem(registry_module.BUILTIN_PLUGINS, "docker", "bosun_local.plugins.no_such_docker")
    with pytest.raises(PluginLoadError, match="^plugin docker is not available: module "
                                              "bosun_local.plugins.no_such_docker is not part of this installation"):
        load_plugin_class("docker")
    (tmp_path / "needs_dep_plugin.py").write_text("import no_such_dep_abc\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry_module.BUILTIN_PLUGINS, "k8s", "needs_dep_plugin")
    with pytest.raises(PluginLoadError, match="^plugin k8s is not available: it needs the Python module "
                                              "no_such_dep_abc, which is not installed"):
        load_plugin_class("k8s")


def test_a_user_plugin_may_extend_a_builtin(tmp_path: Path) -> None:
    path = tmp_path / "my_fs.py"
    path.write_text("from bosun_local.plugins.filesystem import FilesystemPlugin\n\n"
                    "class MyFs(FilesystemPlugin):\n    pass\n")
    cls = load_plugin_class(str(path))
    assert cls.__name__ == "MyFs" and issubclass(cls, FilesystemPlugin)
