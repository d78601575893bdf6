"""The swarm plugin's stack files: pure rendering onto disk, golden files, and the docker CLI's own stack parser."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bosun_local.engine.swarm import NodeInfo, SwarmEngine, TaskInfo
from bosun_local.errors import BosunError
from bosun_local.plugins import load_plugin_class
from bosun_local.plugins.docker.stack import DeploymentConfigError, model_service
from bosun_local.plugins.swarm import SwarmPlugin
from bosun_local.plugins.swarm.pool import SwarmPool
from bosun_local.plugins.swarm.stack import (
    SwarmDeployment,
    crowded,
    edge_stack_file,
    replicas_of,
    task_broker_url,
)
from tests.conftest import need

GOLDEN = Path(__file__).parent / "golden" / "swarm"
DEP, MODEL = "6a1b2c3d4e5f6a7b8c9d0e1f", "7b2c3d4e5f6a7b8c9d0e1f2a"
SETTINGS: dict[str, Any] = {**SwarmPlugin.DEFAULT_SETTINGS, "dockerNetwork": "bosun-swarm", "projectName": "bosun",
                            "containerNamePrefix": "swarm_", "ppsBaseImage": "bosun-local/runtime:0.1.0",
                            "traefikImage": "bosun-local/traefik:3.7.15", "swarmTraefikPort": 8080}


def rendered(tmp_path: Path) -> tuple[Path, Path]:
    artifact = tmp_path / "pkg"
    artifact.mkdir(exist_ok=True)
    model = model_service(DEP, MODEL, artifact, {"memory": "768m", "cpus": "0.5"})
    deployment = SwarmDeployment(DEP, SETTINGS, tmp_path / "stacks", "1000:1000", None, SwarmEngine())
    return deployment.render(model, replicas=3), edge_stack_file(SETTINGS, tmp_path / "stacks")


def check_golden(name: str, text: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"rendered stack differs from {golden} (UPDATE_GOLDEN=1 to accept)"


def test_the_swarm_plugin_is_registered_as_a_builtin() -> None:
    assert load_plugin_class("swarm") is SwarmPlugin


def test_stack_files_match_golden_files_and_rerender_to_the_same_bytes(tmp_path: Path) -> None:
    stack_file, edge_file = rendered(tmp_path)
    assert stack_file == tmp_path / "stacks" / f"swarm_{DEP}" / "swarm.yaml"
    check_golden("deployment.yaml", stack_file.read_text().replace(str(tmp_path), "<tmp>"))
    check_golden("traefik.yaml", edge_file.read_text())
    before = (stack_file.stat().st_mtime_ns, edge_file.stat().st_mtime_ns)
    rendered(tmp_path)
    assert (stack_file.stat().st_mtime_ns, edge_file.stat().st_mtime_ns) == before  # unchanged bytes: not rewritten
    assert oct((stack_file.parent / "pps.env").stat().st_mode & 0o777) == "0o600"


def test_the_stack_holds_what_only_swarm_has(tmp_path: Path) -> None:
    service = yaml.safe_load(rendered(tmp_path)[0].read_text())["services"]["pps"]
    deploy = service["deploy"]
    assert deploy["replicas"] == 3
    assert deploy["update_config"]["order"] == "start-first"
    assert deploy["update_config"]["failure_action"] == "rollback"
    assert deploy["placement"]["preferences"] == [{"spread": "node.id"}]
    assert deploy["endpoint_mode"] == "dnsrr"
    assert deploy["resources"]["limits"] == {"memory": "768m", "cpus": "0.5"}
    router = f"swarm-{DEP}"
    assert deploy["labels"][f"traefik.http.services.{router}.loadbalancer.server.port"] == "8080"
    assert deploy["labels"]["traefik.swarm.network"] == "bosun-swarm"
    assert "healthcheck" in service and service["read_only"] is True and service["cap_drop"] == ["ALL"]


def test_the_docker_cli_parses_both_stack_files(tmp_path: Path) -> None:
    need(shutil.which("docker") is not None, "the docker CLI is missing (run `bosun-local engine ensure`)")
    for path in rendered(tmp_path):
        # `docker stack config` is the CLI's own loader and validator, without an engine.
        proc = subprocess.run(["docker", "stack", "config", "--compose-file", str(path)], capture_output=True,
                              text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "services:" in proc.stdout


@pytest.mark.parametrize("raw", ["0", "x", 65])
def test_replicas_outside_one_to_sixty_four_name_the_key(raw: object) -> None:
    with pytest.raises(DeploymentConfigError, match="replicas"):
        replicas_of({"replicas": raw}, 2, DEP)
    assert replicas_of({}, 2, DEP) == 2 and replicas_of({"replicas": "4"}, 2, DEP) == 4


class NoImageEngine(SwarmEngine):
    """An engine whose every task is rejected for a missing image (a failure made on purpose)."""

    def services(self, labels: dict[str, str]) -> list[dict[str, Any]]:
        return [{"ID": "s1", "Spec": {"Name": f"swarm_{DEP}_pps"}}]

    def tasks(self, services: dict[str, str]) -> list[TaskInfo]:
        return [TaskInfo(f"t{i}", "pps", 1, "n1", "rejected", "shutdown", "No such image: bosun-local/runtime:x",
                         "bosun-local/runtime:x", {"MLOPS_MODEL_ID": MODEL}) for i in range(3)]


def test_a_missing_image_on_the_nodes_fails_at_once_and_says_how_to_load_it(tmp_path: Path) -> None:
    deployment = SwarmDeployment(DEP, SETTINGS, tmp_path / "stacks", "1000:1000", None, NoImageEngine())
    problem = deployment.wait_converged(MODEL, replicas=2, timeout=60)
    assert problem is not None and "No such image: bosun-local/runtime:x" in problem
    assert "docker save IMAGE | docker -H NODE load" in problem


MONITORING = {"queueUrl": "amqp://pool:secret@rabbitmq:5672/%2F", "queueName": "bosun-pps"}


class PoolEngine(SwarmEngine):
    """An engine whose pool service has two running tasks (their status files are the test's)."""

    def services(self, labels: dict[str, str]) -> list[dict[str, Any]]:
        return [{"ID": "p1", "Spec": {"Name": "swarm_shared-pool_pps"}}]

    def tasks(self, services: dict[str, str]) -> list[TaskInfo]:
        return [TaskInfo(f"task{i}", "pps", i, f"n{i}", "running", "running", "", "img") for i in (1, 2)]


def test_the_pool_stack_matches_its_golden_file_keeps_the_login_aside_and_parses(tmp_path: Path) -> None:
    pool = SwarmPool(SETTINGS, tmp_path / "stacks", "1000:1000", MONITORING, SwarmEngine())
    assert pool.render() is True and pool.render() is False  # unchanged bytes: not rewritten, no service update
    text = pool.compose_file.read_text()
    check_golden("pool.yaml", text.replace(str(tmp_path), "<tmp>"))
    assert "secret" not in text
    # Bare: the docker CLI's env-file parser (stack deploy) would keep quotes in the value.
    assert pool.env_file.read_text() == f"MLOPS_RABBITMQ_QUEUE_URL={MONITORING['queueUrl']}\n"
    assert oct(pool.env_file.stat().st_mode & 0o777) == "0o600"
    assert pool.status_dir.stat().st_uid == 1000  # the tasks' user writes its status there, and nothing else
    service = yaml.safe_load(text)["services"]["pps"]
    mounts = {m["target"]: m.get("read_only", False) for m in service["volumes"] if m["type"] == "bind"}
    assert mounts == {str(pool.base_dir): True, str(pool.status_dir): False}
    assert service["environment"]["PPS_STATUS_FILE"] == f"{pool.status_dir}/{{{{.Task.ID}}}}.json"
    assert service["deploy"]["update_config"]["order"] == "start-first"
    assert service["deploy"]["labels"]["traefik.http.routers.swarm-shared-pool.priority"] == "1"
    assert service["read_only"] is True and service["cap_drop"] == ["ALL"] and "/var/run/docker.sock" not in text
    need(shutil.which("docker") is not None, "the docker CLI is missing (run `bosun-local engine ensure`)")
    proc = subprocess.run(["docker", "stack", "config", "--compose-file", str(pool.compose_file)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def test_a_pool_model_that_fails_to_load_in_one_task_fails_with_that_tasks_error(tmp_path: Path) -> None:
    pool = SwarmPool(SETTINGS, tmp_path / "stacks", "1000:1000", None, PoolEngine())
    pool.render()
    entry = {"modelId": MODEL, "attemptedModelId": MODEL, "inode": 7, "error": None}
    (pool.status_dir / "task1.json").write_text(json.dumps({"deployments": {DEP: entry}}))
    assert pool.wait_loaded(DEP, MODEL, 7, timeout=0.3) == \
        "pool replicas task 2 (task2) did not load model 7b2c3d4e5f6a7b8c9d0e1f2a within 0.3 s"
    (pool.status_dir / "task2.json").write_text(json.dumps({"deployments": {DEP: {
        **entry, "modelId": None, "error": "ModuleNotFoundError: sklearn"}}}))
    problem = pool.wait_loaded(DEP, MODEL, 7, timeout=5)
    assert problem == f"model {MODEL} does not load in the shared pool (task 2 (task2)): ModuleNotFoundError: sklearn"
    (pool.status_dir / "gone.json").write_text("{}")  # a task replaced or rescheduled since
    pool.prune_statuses()
    assert sorted(p.name for p in pool.status_dir.iterdir()) == ["task1.json", "task2.json"]


def test_tasks_report_to_the_broker_address_they_reach_with_the_environments_login() -> None:
    url = "amqp://bosun:s3cret@rabbitmq:5672/%2F"
    assert task_broker_url(url, "") == url
    assert task_broker_url(url, "172.19.0.4:5672") == "amqp://bosun:s3cret@172.19.0.4:5672/%2F"
    assert task_broker_url(url, "broker.lan") == "amqp://bosun:s3cret@broker.lan:5672/%2F"
    with pytest.raises(BosunError, match="swarmRabbitmqAddress"):
        task_broker_url(url, "amqp://x@y:1")


def test_tasks_on_fewer_nodes_than_they_could_use_are_crowded() -> None:
    def node(i: int, state: str = "ready") -> NodeInfo:
        return NodeInfo(f"n{i}", f"host{i}", "worker", state, "active", f"10.0.0.{i}", False)

    def task(i: int, node_id: str) -> TaskInfo:
        return TaskInfo(f"t{i}", "pps", i, node_id, "running", "running", "", "img")

    two = [node(1), node(2)]
    assert crowded([task(1, "n1"), task(2, "n1")], two, replicas=2)
    assert not crowded([task(1, "n1"), task(2, "n2")], two, replicas=2)
    assert not crowded([task(1, "n1"), task(2, "n1")], [node(1), node(2, "down")], replicas=2)  # nowhere to go
    assert not crowded([task(1, "n1")], two, replicas=1)
