"""Environments and deployments: create, lifecycle requests, external deployments, agent status, action config."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bosun_local.client import ServiceError
from bosun_local.plugins.framework.deployment_info import DeploymentInfo
from bosun_local.plugins.framework.pe_info import PEInfo

from .helpers import Service, unique, write_classifier, write_package


@pytest.fixture(scope="module")
def package(service: Service, tmp_path_factory: pytest.TempPathFactory, diabetes_frame: pd.DataFrame) -> dict:
    return service.client.register_package(write_package(tmp_path_factory.mktemp("p"), diabetes_frame))


@pytest.fixture(scope="module")
def other_package(service: Service, tmp_path_factory: pytest.TempPathFactory, diabetes_frame: pd.DataFrame) -> dict:
    return service.client.register_package(write_package(tmp_path_factory.mktemp("p2"), diabetes_frame),
                                           name="diabetes-v2")


def _refused(call: object, status: int, text: str) -> None:
    with pytest.raises(ServiceError) as err:
        call()  # type: ignore[operator]
    assert err.value.status_code == status, err.value.message
    assert text in err.value.message, err.value.message


def test_default_environment_from_config(service: Service) -> None:
    envs = service.client.list_environments()
    default = next(e for e in envs if e["isDefault"])
    assert default["name"] == "docker" and default["platform"] == "docker"
    config = default["pluginConfig"]
    assert config["dockerNetwork"] == "bosun" and config["rabbitmqQueueName"] == "mlops"
    assert config["traefikPortMapping"] == ["127.0.0.1:8080:80"] and config["monitoringEnabled"] is True
    assert service.client.get_environment("docker")["id"] == default["id"]


def test_environment_crud_and_errors(service: Service, package: dict) -> None:
    name = unique("fs")
    env = service.client.create_environment(name, "filesystem", {"baseDir": "/tmp/x"}, command="my-plugin --x")
    assert env["platform"] == "filesystem" and env["command"] == "my-plugin --x" and not env["isDefault"]
    _refused(lambda: service.client.create_environment(name, "filesystem"), 409, f"an environment named {name!r}")
    _refused(lambda: service.client.create_environment(unique("x"), "mainframe"), 422, "platform")
    updated = service.client.update_environment(name, pluginConfig={"baseDir": "/tmp/y"})
    assert updated["pluginConfig"] == {"baseDir": "/tmp/y"} and updated["command"] == "my-plugin --x"
    service.client.create_deployment(package["id"], unique("in-fs"), environment=name)
    _refused(lambda: service.client.delete_environment(name), 409, "is used by 1 deployment(s)")
    _refused(lambda: service.client.delete_environment("docker"), 409, "is the default environment")
    spare = service.client.create_environment(unique("spare"), "test")
    service.client.delete_environment(spare["id"])
    _refused(lambda: service.client.get_environment(spare["id"]), 404, f"environment {spare['id']!r} not found")


def test_create_queues_start_and_lists(service: Service, package: dict) -> None:
    name = unique("dep")
    answer = service.client.create_deployment(package["name"], name, description="d", key_value_config={"a": 1})
    dep, action = answer["deployment"], answer["action"]
    assert dep["state"] == "launching" and dep["desiredState"] == "running" and dep["modelId"] == package["id"]
    assert dep["packageId"] == package["id"] and dep["keyValueConfig"] == {"a": 1} and len(dep["id"]) == 24
    assert action["type"] == "deployment_start" and action["status"] == "pending"
    assert action["deploymentId"] == dep["id"]
    assert service.client.get_deployment(name)["id"] == dep["id"]
    assert dep["id"] in [d["id"] for d in service.client.list_deployments()]
    events = service.client.list_events(deployment=dep["id"], types=["deployment_created"])
    assert len(events) == 1 and name in events[0]["message"]


def test_create_errors(service: Service, package: dict) -> None:
    name = unique("dup")
    service.client.create_deployment(package["id"], name)
    _refused(lambda: service.client.create_deployment(package["id"], name), 409,
             f"a deployment named {name!r} already exists")
    _refused(lambda: service.client.create_deployment("missing-pkg", unique("x")), 404, "package 'missing-pkg'")
    _refused(lambda: service.client.create_deployment(package["id"], unique("x"), environment="nowhere"), 404,
             "environment 'nowhere' not found")
    _refused(lambda: service.client.create_deployment(package["id"], "  "), 422, "deployment name is empty")
    _refused(lambda: service.client.get_deployment("ghost"), 404, "deployment 'ghost' not found")


def test_external_deployment_is_ready_without_action(service: Service, package: dict, other_package: dict) -> None:
    name = unique("ext")
    answer = service.client.create_deployment(package["id"], name, external=True)
    assert answer["action"] is None and answer["deployment"]["state"] == "ready"
    assert answer["deployment"]["external"] is True
    dep_id = answer["deployment"]["id"]
    assert service.client.list_actions(dep_id) == []
    assert service.client.stop_deployment(dep_id)["deployment"]["state"] == "stopped"
    assert service.client.replace_model(dep_id, other_package["id"])["deployment"]["modelId"] == other_package["id"]
    _refused(lambda: service.client.relaunch_deployment(dep_id), 409, "is external")
    deleted = service.client.delete_deployment(dep_id)["deployment"]
    assert deleted["deletedAt"] and deleted["desiredState"] == "deleted"
    assert dep_id not in [d["id"] for d in service.client.list_deployments()]
    assert dep_id in [d["id"] for d in service.client.list_deployments(include_deleted=True)]


def test_replace_model_checks(service: Service, package: dict, other_package: dict, tmp_path: Path) -> None:
    dep = service.client.create_deployment(package["id"], unique("rep"))["deployment"]
    _refused(lambda: service.client.replace_model(dep["id"], package["id"]), 409, "already runs package")
    clf = service.client.register_package(write_classifier(tmp_path / "clf"), name=unique("clf"))
    _refused(lambda: service.client.replace_model(dep["id"], clf["id"]), 422,
             "is a binary model but deployment")
    answer = service.client.replace_model(dep["id"], "diabetes-v2")
    assert answer["action"]["params"] == {"newPackageId": other_package["id"], "oldPackageId": package["id"]}


def test_status_patch_records_changes_only(service: Service, package: dict) -> None:
    dep = service.client.create_deployment(package["id"], unique("st"))["deployment"]
    service.client.update_deployment_status(dep["id"], state="ready", health_status="passing",
                                            prediction_url="http://127.0.0.1:8080/deployments/x", message="seen")
    service.client.update_deployment_status(dep["id"], state="ready", health_status="passing")
    service.client.update_deployment_status(dep["id"], health_status="failing", message="ping failed")
    events = service.client.list_events(deployment=dep["id"], types=["deployment_state_changed", "health_changed"])
    assert [(e["type"], e["status"]) for e in reversed(events)] == [
        ("deployment_state_changed", "passing"), ("health_changed", "passing"), ("health_changed", "failing")]
    assert "ping failed" in events[0]["message"]
    got = service.client.get_deployment(dep["id"])
    assert got["healthStatus"] == "failing" and got["predictionUrl"] == "http://127.0.0.1:8080/deployments/x"
    _refused(lambda: service.client.update_deployment_status(dep["id"], state="sleeping"), 422, "state")


def test_action_config_is_what_plugins_accept(service: Service, package: dict, other_package: dict) -> None:
    dep = service.client.create_deployment(package["id"], unique("cfg"), key_value_config={"replicas": 2})["deployment"]
    config = service.client.action_config(dep["id"], "deployment_start")
    info = DeploymentInfo(config["deploymentInfo"])  # the plugins' own validation
    pe = PEInfo(config["peInfo"])
    assert info.id == dep["id"] and info.model_id == package["id"] and info.new_model_id is None
    assert info.model_execution_type == "dedicated" and info.kv_config == {"replicas": 2}
    assert config["deploymentInfo"]["modelArtifact"] == package["path"]
    assert Path(config["deploymentInfo"]["modelArtifact"]).is_absolute()
    assert config["deploymentInfo"]["modelFormat"] == "pickle" and config["deploymentInfo"]["modelName"] == "diabetes"
    assert dep["id"] in config["peInfo"]["deployments"] and pe.id == dep["environmentId"]
    assert config["pluginConfig"]["dockerNetwork"] == "bosun"
    _refused(lambda: service.client.action_config(dep["id"], "deployment_replace_model"), 409,
             "has no model replacement queued")
    service.client.replace_model(dep["id"], other_package["id"])
    replace = service.client.action_config(dep["id"], "deployment_replace_model")["deploymentInfo"]
    assert replace["modelId"] == package["id"] and replace["newModelId"] == other_package["id"]
    assert replace["modelArtifact"] == other_package["path"]
    _refused(lambda: service.client.action_config(dep["id"], "deployment_dance"), 422, "is not a plugin action")


def test_deployment_baseline_route(service: Service, package: dict) -> None:
    dep = service.client.create_deployment(package["id"], unique("bl"))["deployment"]
    assert service.client.baseline(dep["id"]) == service.client.package_baseline(package["id"])
