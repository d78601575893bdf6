"""Agent and docker-plugin parts without the engine: lanes, plugin host, template, status judgement."""
from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from bosun_local.agent.action_worker import ActionWorker
from bosun_local.agent.lanes import Lanes
from bosun_local.agent.plugin_host import PluginHost
from bosun_local.agent.settings import AgentSettings
from bosun_local.client import ServiceClient
from bosun_local.contracts.liveness import http_probe_test
from bosun_local.engine.adapter import ContainerInfo
from bosun_local.plugins.docker.replicas import replica_count, replicas_of
from bosun_local.plugins.docker.routes import Routes, RoutesFile
from bosun_local.plugins.docker.stack import (
    DeploymentConfigError,
    DeploymentStack,
    model_service,
)
from bosun_local.plugins.docker.status import judge_deployment
from bosun_local.plugins.pool_dirs import PoolError, pool_replicas
from tests.agent.packages import diabetes_package

DEP = "0123456789abcdef01234567"
OLD, NEW = "a" * 24, "b" * 24
SETTINGS = {"containerNamePrefix": "deployment_", "dockerNetwork": "bosun", "ppsBaseImage": "bosun-local/runtime:0.1.0",
            "gracefulTimeoutSec": 30, "retryAttempts": 5}


def test_lanes_keep_one_deployment_in_order_and_run_others_alongside() -> None:
    lanes = Lanes(workers=3)
    release_a1, b_ran, a2_ran = threading.Event(), threading.Event(), threading.Event()
    order: list[str] = []

    def a1() -> None:
        order.append("a1 start")
        assert release_a1.wait(30)
        order.append("a1 end")

    lanes.submit("a", "a1", a1)
    lanes.submit("a", "a2", lambda: (order.append("a2"), a2_ran.set()))
    lanes.submit("b", "b1", b_ran.set)
    assert b_ran.wait(30), "deployment b waited for deployment a"
    assert not a2_ran.is_set() and lanes.busy("a")
    release_a1.set()
    assert a2_ran.wait(30)
    assert lanes.wait_idle(30)
    assert order == ["a1 start", "a1 end", "a2"]
    assert not lanes.busy("a") and lanes.active() == {}
    lanes.shutdown()


def test_a_failing_job_does_not_stop_its_lane() -> None:
    lanes = Lanes(workers=1)
    done = threading.Event()
    lanes.submit("a", "boom", lambda: 1 / 0)
    lanes.submit("a", "after", done.set)
    assert done.wait(30)
    lanes.shutdown()


def test_plugin_host_runs_a_builtin_plugin_through_the_runner_command(tmp_path: Path) -> None:
    host = PluginHost(tmp_path / "work")
    env = {"name": "t", "platform": "test", "command": "bosun-plugin-runner --plugin test"}
    config = {"pluginConfig": {"tmp_dir": str(tmp_path)}, "peInfo": {"id": "e" * 24, "deployments": []},
              "environment": {"ignored": True}}
    assert host.run(env, "pe_status", config).msg == "PE not found"
    assert host.run(env, "plugin_start", config).status == "passing"
    status = host.run(env, "pe_status", config)
    assert status.status == "passing", status.msg
    assert list((tmp_path / "work").iterdir()) == []  # config and status files are cleaned up


@pytest.mark.parametrize(("command", "expected"), [
    (f"{sys.executable} -c 'import sys; sys.stderr.write(\"plugin exploded\"); sys.exit(3)'", "plugin exploded"),
    ("/nonexistent/plugin-runner --plugin x", "cannot run the plugin command"),
    ("'unbalanced", "is not usable"),
])
def test_plugin_host_turns_a_broken_command_into_a_failing_status(tmp_path: Path, command: str,
                                                                  expected: str) -> None:
    status = PluginHost(tmp_path).run({"name": "broken", "command": command}, "pe_status", {"pluginConfig": {}})
    assert status.status == "failing"
    assert expected in (status.msg or "")
    assert status.duration is not None


def render(tmp_path: Path, models: list[Any], monitoring: dict[str, str] | None = None) -> dict[str, Any]:
    stack = DeploymentStack(DEP, SETTINGS, tmp_path / "stacks", "10001:10001", monitoring)
    return yaml.safe_load(stack.render(models).read_text())


def test_template_renders_one_service_per_model_with_identical_routes(tmp_path: Path) -> None:
    pkg = diabetes_package(tmp_path / "pkg")
    old = model_service(DEP, OLD, pkg, {})
    new = model_service(DEP, NEW, pkg, {"memory": "256m", "cpus": "0.5", "PREDICTION_API_WORKERS": "2"})
    doc = render(tmp_path, [old, new])
    assert doc["name"] == f"deployment_{DEP}"
    assert doc["networks"]["bosun"] == {"name": "bosun", "external": True}
    services = doc["services"]
    assert sorted(services) == [f"pps-{OLD}", f"pps-{NEW}"]
    a, b = services[f"pps-{OLD}"], services[f"pps-{NEW}"]
    assert b["container_name"] == f"deployment_{DEP}_{NEW}"
    assert b["volumes"] == [{"type": "bind", "source": str(pkg), "target": str(pkg), "read_only": True}]
    assert b["user"] == "10001:10001" and b["read_only"] is True
    assert b["mem_limit"] == "256m" and b["cpus"] == 0.5 and a["mem_limit"] == "512m" and "cpus" not in a
    assert b["environment"]["PREDICTION_API_WORKERS"] == "2"
    assert b["environment"]["MLOPS_MODEL_ID"] == NEW and b["environment"]["MLOPS_DEPLOYMENT_ID"] == DEP
    assert "/dev/tcp/127.0.0.1/8080" in " ".join(b["healthcheck"]["test"])
    # Fast until the first pass, then one probe per probeSteadySec (30): Docker must not time the wait out.
    assert b["healthcheck"]["test"] == http_probe_test(8080, 30) and b["healthcheck"]["timeout"] == "35s"
    assert "$" not in b["healthcheck"]["test"][3]  # compose would read it as a variable
    assert b["labels"]["io.bosun-local.deployment"] == DEP and b["labels"]["io.bosun-local.model"] == NEW
    router = f"deployment-{DEP}"

    def shared_route(labels: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in labels.items() if k.startswith("traefik.") and f"{router}-c-" not in k}

    route = shared_route(b["labels"])
    assert route == shared_route(a["labels"])  # one router and service for both models
    # Each model's own service too: a replacement pins the route there before the old model stops.
    assert b["labels"][f"traefik.http.services.{router}-c-{NEW}.loadbalancer.server.port"] == "8080"
    assert f"traefik.http.services.{router}-c-{OLD}.loadbalancer.server.port" in a["labels"]
    assert route[f"traefik.http.routers.{router}.rule"] == (f"PathPrefix(`/deployments/{DEP}/`) || "
                                                            f"PathPrefix(`/predApi/v1.0/deployments/{DEP}/`)")
    assert route[f"traefik.http.routers.{router}.entrypoints"] == "web"
    assert route["traefik.docker.network"] == "bosun"
    assert route[f"traefik.http.middlewares.{router}-retry.retry.attempts"] == "5"
    assert b["environment"]["MONITORING_ENABLED"] == "0" and "MLOPS_SPOOLER_TYPE" not in b["environment"]


def test_template_wires_monitoring_to_the_environment_rabbitmq(tmp_path: Path) -> None:
    model = model_service(DEP, NEW, diabetes_package(tmp_path / "pkg"), {})
    queue_url = "amqp://bosun:s3cr%t@rabbitmq:5672/%2F"
    service = render(tmp_path, [model], {"queueUrl": queue_url, "queueName": "mlops"})["services"][f"pps-{NEW}"]
    env = service["environment"]
    assert env["MLOPS_SPOOLER_TYPE"] == "RABBITMQ"
    assert env["MLOPS_RABBITMQ_QUEUE_NAME"] == "mlops"
    # The login is in the deployment's 0600 env file, never in compose.yaml.
    (env_file,) = service["env_file"]
    assert "MLOPS_RABBITMQ_QUEUE_URL" not in env
    assert Path(env_file).read_text() == f"MLOPS_RABBITMQ_QUEUE_URL='{queue_url}'\n"
    assert Path(env_file).stat().st_mode & 0o777 == 0o600


def test_rendering_is_pure(tmp_path: Path) -> None:
    model = model_service(DEP, NEW, diabetes_package(tmp_path / "pkg"), {})
    stack = DeploymentStack(DEP, SETTINGS, tmp_path / "stacks", "10001:10001", None)
    first = stack.render([model]).read_bytes()
    assert stack.render([model]).read_bytes() == first


def test_replicas_render_as_one_service_each_with_unique_names(tmp_path: Path) -> None:
    """The first replica keeps the single-container names; the others add _rN and a replica label."""
    model = model_service(DEP, NEW, diabetes_package(tmp_path / "pkg"), {})
    stack = DeploymentStack(DEP, SETTINGS, tmp_path / "stacks", "10001:10001", None)
    services = yaml.safe_load(stack.render(replicas_of(model, 3)).read_text())["services"]
    assert list(services) == [f"pps-{NEW}", f"pps-{NEW}-r2", f"pps-{NEW}-r3"]
    assert [s["container_name"] for s in services.values()] == [
        f"deployment_{DEP}_{NEW}", f"deployment_{DEP}_{NEW}_r2", f"deployment_{DEP}_{NEW}_r3"]
    assert [s["labels"].get("io.bosun-local.replica") for s in services.values()] == [None, "2", "3"]
    routers = {k for s in services.values() for k in s["labels"] if k.endswith(".rule")}
    assert len(routers) == 1  # one router: traefik balances over every healthy replica
    assert model.as_replica(2).as_role("challenger").service() == f"pps-{NEW}-r2-challenger"


def test_a_challenger_has_its_own_route_above_the_deployments(tmp_path: Path) -> None:
    """The replay path /deployments/<id>/challengers/<model>/ reaches the challenger alone, rewritten to its paths."""
    pkg = diabetes_package(tmp_path / "pkg")
    champion = model_service(DEP, OLD, pkg, {})
    challenger = model_service(DEP, NEW, pkg, {}).as_role("challenger")
    stack = DeploymentStack(DEP, SETTINGS, tmp_path / "stacks", "10001:10001", None)
    services = yaml.safe_load(stack.render([champion, challenger]).read_text())["services"]
    labels = services[f"pps-{NEW}-challenger"]["labels"]
    router, side = f"deployment-{DEP}", f"deployment-{DEP}-m-{NEW}"
    assert labels[f"traefik.http.routers.{side}.rule"] == f"PathPrefix(`/deployments/{DEP}/challengers/{NEW}/`)"
    assert labels[f"traefik.http.routers.{side}.service"] == side
    assert int(labels[f"traefik.http.routers.{side}.priority"]) > 10000  # above the mirror/canary file router
    assert labels[f"traefik.http.middlewares.{side}-path.replacepathregex.regex"] == \
        f"^/deployments/{DEP}/challengers/{NEW}/(.*)"
    # Compose turns $$ into $: traefik gets the regex group, not a variable Compose would have emptied.
    assert labels[f"traefik.http.middlewares.{side}-path.replacepathregex.replacement"] == f"/deployments/{DEP}/$$1"
    assert not any(k.startswith(f"traefik.http.routers.{router}.") for k in labels)  # never the clients' route
    champion_labels = services[f"pps-{OLD}"]["labels"]
    assert not any(".replacepathregex." in k for k in champion_labels)


@pytest.mark.parametrize(("kv", "message"), [
    ({"memory": "lots"}, "memory='lots' is not a size"),
    ({"cpus": "-1"}, "cpus='-1' is not a positive number"),
    ({"cpus": "fast"}, "cpus='fast'"),
    ({"PREDICTION_API_WORKERS": "0"}, "PREDICTION_API_WORKERS='0'"),
    ({"PREDICTION_API_WORKERS": "many"}, "PREDICTION_API_WORKERS='many'"),
])
def test_bad_key_value_config_is_named(tmp_path: Path, kv: dict[str, str], message: str) -> None:
    with pytest.raises(DeploymentConfigError, match="keyValueConfig") as info:
        model_service(DEP, NEW, diabetes_package(tmp_path / "pkg"), kv)
    assert message in info.value.message


def test_missing_artifact_and_bad_ids_are_named(tmp_path: Path) -> None:
    with pytest.raises(DeploymentConfigError, match="modelArtifact .* is not a directory"):
        model_service(DEP, NEW, tmp_path / "missing", {})
    with pytest.raises(DeploymentConfigError, match="cannot name a container"):
        model_service(DEP, "../etc", tmp_path, {})
    with pytest.raises(DeploymentConfigError, match="containerNamePrefix"):
        DeploymentStack(DEP, {**SETTINGS, "containerNamePrefix": "Bad Prefix"}, tmp_path, "0:0", None)


def container(model: str, status: str = "running", health: str | None = "healthy", exit_code: int = 0) -> ContainerInfo:
    return ContainerInfo(name=f"deployment_{DEP}_{model}", id=model, status=status, health=health,
                         exit_code=exit_code, labels={"io.bosun-local.model": model}, started_at="t0",
                         finished_at="", restart_count=0)


@pytest.mark.parametrize(("containers", "status", "state"), [
    ([], "failing", "stopped"),
    ([container(OLD)], "passing", "ready"),
    ([container(OLD, health="starting")], "unknown", "launching"),
    ([container(OLD, health="unhealthy")], "failing", "errored"),
    ([container(OLD, status="exited", health=None, exit_code=137)], "failing", "errored"),
    ([container(OLD), container(NEW, health="starting")], "passing", "replacingModel"),
    ([container(OLD), container(NEW, status="exited", exit_code=1)], "warning", "ready"),
])
def test_judge_deployment(containers: list[ContainerInfo], status: str, state: str) -> None:
    result = judge_deployment(DEP, containers, "http://x/predictions")
    assert (result.status, result.state) == (status, state), result.msg
    assert result.data["predictionUrl"] == "http://x/predictions"


def test_judge_names_the_exit_code_and_expected_model() -> None:
    exited = judge_deployment(DEP, [container(OLD, status="exited", health=None, exit_code=137)], "u")
    assert "exit code 137" in (exited.msg or "")
    other = judge_deployment(DEP, [container(OLD)], "u", expected_model=NEW)
    assert other.status == "warning" and NEW in (other.msg or "")


def test_judge_counts_replicas_and_names_those_to_relaunch() -> None:
    """Ready while one replica serves; the broken and missing ones are in data for the agent's heal."""
    second = ContainerInfo(name=f"deployment_{DEP}_{OLD}_r2", id="r2", status="exited", health=None, exit_code=137,
                           labels={"io.bosun-local.model": OLD, "io.bosun-local.replica": "2"}, started_at="t0",
                           finished_at="", restart_count=0)
    result = judge_deployment(DEP, [container(OLD), second], "u", expected_model=OLD, wanted=3)
    assert (result.status, result.state) == ("warning", "ready"), result.msg
    assert result.data["replicas"] == {"healthy": 1, "wanted": 3}
    assert result.data["brokenReplicas"] == [second.name] and result.data["missingReplicas"] == 1
    assert "1 of 3 replicas healthy" in (result.msg or "") and "exit code 137" in (result.msg or "")
    fine = judge_deployment(DEP, [container(OLD)], "u", expected_model=OLD, wanted=1)
    assert fine.status == "passing" and "brokenReplicas" not in fine.data and "missingReplicas" not in fine.data


def test_an_action_claimed_back_while_it_still_runs_is_not_run_twice() -> None:
    action = {"id": "a1", "type": "deployment_start", "deploymentId": "d1", "attempts": 2}

    class LeaseRanOut:
        """The service hands the agent back an action whose lease ran out while the service was away."""

        def claim_action(self, agent_id: str, lease_sec: float, wait_sec: float = 0) -> dict[str, Any]:
            return action

    lanes = Lanes(2)
    submitted: list[object] = []
    lanes.submit = lambda *args: submitted.append(args)  # type: ignore[method-assign]
    worker = ActionWorker(lambda: cast(ServiceClient, LeaseRanOut()), cast(PluginHost, None), lanes,
                          AgentSettings(agent_id="mgmt-x-0"))
    assert worker.claim_once() and len(submitted) == 1  # first claim: runs
    assert worker.claim_once() and len(submitted) == 1  # claimed back while running: not queued again
    assert worker.held() == ["a1"]


def test_dedicated_docker_replicas_are_a_bounded_whole_number() -> None:
    """keyValueConfig replicas, else pluginConfig.ppsReplicas; a bad value is named with where it came from."""
    assert replica_count({}, 1, DEP) == 1
    assert replica_count({"replicas": "3"}, 1, DEP) == 3
    assert replica_count({"replicas": ""}, 2, DEP) == 2
    for bad in (0, 65, "many", True):
        with pytest.raises(DeploymentConfigError, match=f"keyValueConfig replicas={bad!r} .* from 1 to 64") as info:
            replica_count({"replicas": bad}, 1, DEP)
        assert "set replicas like 2" in (info.value.fix or "")
    with pytest.raises(DeploymentConfigError, match="pluginConfig.ppsReplicas='x'"):
        replica_count({}, "x", DEP)


def test_pool_replicas_are_a_bounded_whole_number() -> None:
    assert pool_replicas({}, "docker", 16, "fix it") == 2
    assert pool_replicas({"poolReplicas": "3"}, "swarm", 64, "fix it") == 3
    for bad in (0, 17, "two", None):
        with pytest.raises(PoolError, match=f"poolReplicas={bad!r} of the docker plugin .* from 1 to 16"):
            pool_replicas({"poolReplicas": bad}, "docker", 16, "fix it")


@pytest.mark.parametrize("routes", [
    Routes(DEP, "r", "r-c-a@docker", pinned=True),
    Routes(DEP, "r", "r@docker", mirrors=["r-m-b@docker", "r-m-c@docker"], retry_attempts=3),
    Routes(DEP, "r", "r-c-a@docker", canary="r-m-d@docker", canary_percent=20),
    Routes(DEP, "r", "r@docker", mirrors=["r-m-b@docker"], canary="r-m-d@docker", canary_percent=99),
])
def test_a_routes_file_reads_back_as_the_routes_it_was_written_from(tmp_path: Path, routes: Routes) -> None:
    """A replacement rewrites the champion of whatever routes are in place, so the file must read back whole."""
    routes_file = RoutesFile(tmp_path / "traefik", "proj")
    assert routes_file.read(DEP, "r") is None
    version = routes_file.apply(routes)
    assert routes_file.read(DEP, "r") == routes and version == routes.version()
    assert routes_file.apply(Routes(DEP, "r", "r@docker")) is None and not routes_file.path.exists()
    routes_file.path.parent.mkdir(exist_ok=True)
    routes_file.path.write_text("http: [not, ours]\n")
    assert routes_file.read(DEP, "r") is None
