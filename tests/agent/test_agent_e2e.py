"""End to end: service, agent, docker plugin, traefik and the PPS on the real engine."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bosun_local.config import load_defaults
from tests.agent.harness import AgentEnv, agent_env, predict, until
from tests.agent.packages import ROW, broken_package, diabetes_package
from tests.conftest import free_port

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stack(stack_images: None) -> Iterator[AgentEnv]:
    with agent_env("bage2e", agent_args=["--lease-sec", "6", "--status-interval-sec", "1",
                                         "--command-status-interval-sec", "2"]) as env:
        yield env


def register(stack: AgentEnv, directory: Path) -> str:
    return str(stack.cli_json("packages", "register", str(directory))["id"])


def action_result(stack: AgentEnv, deployment_id: str, type_: str) -> dict[str, Any]:
    with stack.client() as client:
        actions = [a for a in client.list_actions(deployment_id) if a["type"] == type_]
    return actions[0]  # newest first


def model_served(stack: AgentEnv, deployment_id: str) -> str:
    response = httpx.get(f"{stack.web}/deployments/{deployment_id}/info", timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["modelId"])


class Load:
    """Send predictions through traefik from a thread until stopped (bounded by count and time)."""

    def __init__(self, url: str, max_requests: int = 20000, max_sec: float = 240.0) -> None:
        self.url, self.max_requests, self.max_sec = url, max_requests, max_sec
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_sec
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set() and time.monotonic() < deadline and self.ok + len(self.failures) < \
                    self.max_requests:
                try:
                    response = http.post(self.url, json=[ROW])
                    if response.status_code == 200 and "prediction" in response.text:
                        self.ok += 1
                    else:
                        self.failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)


def test_deploy_replace_fail_replace_stop(stack: AgentEnv, tmp_path: Path) -> None:
    first = register(stack, diabetes_package(tmp_path / "linear"))
    answer = stack.cli_json("deploy", first, "--name", "diabetes", "--wait")
    dep = answer["deployment"]
    assert dep["state"] == "ready", stack.log_tail()
    url = dep["predictionUrl"]
    assert url == f"{stack.web}/deployments/{dep['id']}/predictions"
    response = predict(url, ROW)
    assert response.status_code == 200, response.text
    linear = response.json()["data"][0]["prediction"]
    assert isinstance(linear, float)
    # The workshop's curl: form fields on /predict, through the same route.
    form = httpx.request("GET", f"{stack.web}/deployments/{dep['id']}/predict", timeout=10,
                         content="&".join(f"{k}={v}" for k, v in ROW.items()),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 200 and str(round(linear, 3))[:5] in form.text, form.text
    compose = stack.home / "stacks" / f"{stack.name}_{dep['id']}" / "compose.yaml"
    assert f"{stack.name}_{dep['id']}_{first}" in compose.read_text()

    second = register(stack, diabetes_package(tmp_path / "ridge", alpha=10.0))
    with Load(url) as load:
        until("some requests before the replacement", lambda: load.ok >= 20, 60)
        stack.cli("deployments", "replace-model", dep["id"], second, "--wait")
        seen = load.ok
        until("requests after the replacement", lambda: load.ok >= seen + 20, 60)
    assert load.failures == [], load.failures[:5]
    assert load.ok > 40
    assert model_served(stack, dep["id"]) == second
    assert predict(url, ROW).json()["data"][0]["prediction"] != linear
    assert [c.labels["io.bosun-local.model"] for c in stack.containers(dep["id"])] == [second]

    broken = register(stack, broken_package(tmp_path / "broken"))
    failed = stack.cli("deployments", "replace-model", dep["id"], broken, "--wait", check=False)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    result = action_result(stack, dep["id"], "deployment_replace_model")
    assert result["status"] == "failed"
    assert result["result"]["data"]["oldModelInUse"] is True
    assert "keeps serving" in result["result"]["msg"]
    assert predict(url, ROW).status_code == 200
    assert model_served(stack, dep["id"]) == second
    assert [c.labels["io.bosun-local.model"] for c in stack.containers(dep["id"])] == [second]

    # Replicas a dedicated docker deployment cannot run fail its action, named (tests/agent/test_replicas.py runs 2+).
    many = stack.cli("deploy", first, "--name", "diabetes-replicas", "--kv", "serving=dedicated", "--kv",
                     "replicas=0", "--wait", check=False)
    assert many.returncode == 1, many.stdout + many.stderr
    with stack.client() as client:
        many_id = next(d["id"] for d in client.list_deployments() if d["name"] == "diabetes-replicas")
    refused = action_result(stack, many_id, "deployment_start")
    assert refused["status"] == "failed" and "keyValueConfig replicas=0 is not a whole number from 1 to 64" in \
        refused["result"]["msg"], refused

    stack.cli("deployments", "stop", dep["id"], "--wait")
    assert stack.containers(dep["id"]) == []
    assert not compose.parent.exists()
    assert predict(url, ROW).status_code == 404  # drained out of traefik before removal: no hanging request

    events = stack.cli_json("events", "--deployment", dep["id"], "--limit", "500")
    steps = [(e["type"], (e.get("data") or {}).get("actionType")) for e in reversed(events)]
    for step in [("deployment_created", None), ("action_started", "deployment_start"),
                 ("action_succeeded", "deployment_start"), ("action_succeeded", "deployment_replace_model"),
                 ("action_failed", "deployment_replace_model"), ("action_succeeded", "deployment_stop")]:
        assert step in steps, f"{step} missing from {steps}"


def test_docker_kill_is_healed_with_an_event(stack: AgentEnv, tmp_path: Path) -> None:
    package = register(stack, diabetes_package(tmp_path / "m"))
    dep = stack.cli_json("deploy", package, "--name", "heal-me", "--wait")["deployment"]
    (before,) = stack.containers(dep["id"])
    subprocess.run(["docker", "kill", before.name], check=True, capture_output=True)
    until("the PPS to be relaunched and healthy",
          lambda: [c for c in stack.containers(dep["id"]) if c.healthy and c.started_at != before.started_at], 90)
    until("traefik to route to the relaunched PPS", lambda: predict(dep["predictionUrl"], ROW).status_code == 200, 30)
    with stack.client() as client:
        events = until("the heal event", lambda: client.list_events(deployment=dep["id"],
                                                                     types=["deployment_heal_succeeded"]), 30)
        assert "relaunched" in events[0]["message"]
        assert client.list_events(deployment=dep["id"], types=["deployment_heal_started"])

    # An unhealthy (not exited) PPS is relaunched too: Docker itself never restarts it.
    (sick,) = stack.containers(dep["id"])
    subprocess.run(["docker", "exec", sick.name, "python", "-c", "open('/tmp/drain', 'w').close()"], check=True,
                   capture_output=True)
    until("the unhealthy PPS to be replaced by a healthy one",
          lambda: [c for c in stack.containers(dep["id"]) if c.healthy and c.id != sick.id], 120)
    with stack.client() as client:
        started = client.list_events(deployment=dep["id"], types=["deployment_heal_started"])
        assert any("unhealthy" in e["message"] for e in started), [e["message"] for e in started]
    stack.cli("deployments", "stop", dep["id"], "--wait")


def test_agent_killed_mid_start_ends_with_one_stack(stack: AgentEnv, tmp_path: Path) -> None:
    package = register(stack, diabetes_package(tmp_path / "m"))
    answer = stack.cli_json("deploy", package, "--name", "kill-me")
    dep, action = answer["deployment"], answer["action"]
    with stack.client() as client:
        until("the start to be claimed and its container created",
              lambda: client.get_action(action["id"])["status"] == "claimed" and stack.containers(dep["id"]), 60,
              every=0.05)
        stack.stop_agent(hard=True)
        stack.start_agent()
        done = client.wait_for_action(action["id"], timeout=180)
        dep = client.get_deployment(dep["id"])
    assert done["status"] == "done", done
    assert dep["state"] == "ready"
    assert done["attempts"] >= 2
    containers = stack.containers(dep["id"])
    assert len(containers) == 1 and containers[0].healthy, containers
    projects = {c.labels.get("com.docker.compose.project") for c in containers}
    assert projects == {f"{stack.name}_{dep['id']}"}
    assert predict(dep["predictionUrl"], ROW).status_code == 200
    stack.cli("deployments", "stop", dep["id"], "--wait")


def test_custom_plugin_file_runs_as_an_external_command(stack: AgentEnv, tmp_path: Path) -> None:
    notes = stack.home / "notes"
    plugin = Path(__file__).with_name("notes_plugin.py")
    with stack.client() as client:
        client.create_environment("notes", "test", plugin_config={"outDir": str(notes)},
                                  command=f"bosun-plugin-runner --plugin {plugin}")
    package = register(stack, diabetes_package(tmp_path / "m"))
    dep = stack.cli_json("deploy", package, "--name", "noted", "--env", "notes", "--wait")["deployment"]
    assert dep["state"] == "ready"
    assert dep["predictionUrl"] == f"http://notes.invalid/deployments/{dep['id']}/predictions"
    note = yaml.safe_load((notes / f"{dep['id']}.yaml").read_text())
    assert note["modelId"] == package
    assert Path(note["artifact"]).is_dir() and (Path(note["artifact"]) / "model.pkl").exists()
    assert note["pid"] != stack.agent.pid  # written by the runner process, not inside the agent
    result = action_result(stack, dep["id"], "deployment_start")["result"]
    assert result["msg"] == "note written"
    # The plugin's pe_status names no deployments: the agent asks deployment_status, and heals through the command.
    (notes / f"{dep['id']}.yaml").unlink()
    until("the note to be written again", (notes / f"{dep['id']}.yaml").exists, 90)
    with stack.client() as client:
        assert until("the heal event", lambda: client.list_events(deployment=dep["id"],
                                                                  types=["deployment_heal_succeeded"]), 30)
    stack.cli("deployments", "stop", dep["id"], "--wait")
    assert not (notes / f"{dep['id']}.yaml").exists()


def run_docker_plugin(stack: AgentEnv, tmp_path: Path, action: str, plugin_config: dict[str, Any]) -> dict[str, Any]:
    """Run the docker plugin through `bosun-plugin-runner` as a user would; return the status file."""
    config, status = tmp_path / f"{action}.yaml", tmp_path / f"{action}.status.yaml"
    config.write_text(yaml.safe_dump({"pluginConfig": stack.plugin_config(**plugin_config),
                                      "peInfo": {"id": "e" * 24, "deployments": []}}))
    subprocess.run([str(Path(sys.executable).parent / "bosun-plugin-runner"), "--plugin", "docker", "--action", action,
                    "--config", str(config), "--status-file", str(status)], env=stack.env, check=True,
                   capture_output=True, timeout=120)
    return yaml.safe_load(status.read_text())


def test_pe_status_reports_orphans_without_touching_them(stack: AgentEnv, tmp_path: Path) -> None:
    orphan = f"{stack.name}_orphan"
    subprocess.run(["docker", "run", "-d", "--name", orphan, "--label", f"io.bosun-local.deployment={'f' * 24}",
                    "--label", f"io.bosun-local.network={stack.name}", "--entrypoint", "sleep",
                    load_defaults()["agentImage"], "300"], check=True, capture_output=True)
    try:
        status = run_docker_plugin(stack, tmp_path, "pe_status", {})
        assert status["status"] == "warning", status
        assert status["data"]["orphans"] == [orphan]
        assert status["data"]["traefik"] == "ok" and status["data"]["rabbitmq"] == "disabled"
        with stack.client() as client:
            event = until("the agent's orphans event", lambda: client.list_events(types=["orphans_found"]), 30)
        assert orphan in event[0]["message"]
        assert [c.status for c in stack.containers("f" * 24)] == ["running"]  # reported, never touched

        monitored = run_docker_plugin(stack, tmp_path, "pe_status", {"monitoringEnabled": True})
        assert monitored["status"] == "warning" and "RabbitMQ" in monitored["msg"]
        no_traefik = run_docker_plugin(stack, tmp_path, "pe_status", {"traefikUrl": f"http://127.0.0.1:{free_port()}"})
        assert no_traefik["status"] == "failing" and "traefik does not answer" in no_traefik["msg"]
    finally:
        subprocess.run(["docker", "rm", "-f", orphan], capture_output=True)


def test_restarted_agent_reconciles_desired_and_actual_state(stack: AgentEnv, tmp_path: Path) -> None:
    package = register(stack, diabetes_package(tmp_path / "m"))
    running = stack.cli_json("deploy", package, "--name", "should-run", "--wait")["deployment"]
    stopped = stack.cli_json("deploy", package, "--name", "should-stop", "--wait")["deployment"]
    stack.cli("deployments", "stop", stopped["id"], "--wait")
    stack.stop_agent()
    # While no agent runs: one deployment loses its container, the other gets one it should not have.
    subprocess.run(["docker", "rm", "-f", *[c.name for c in stack.containers(running["id"])]], check=True,
                   capture_output=True)
    with stack.client() as client:
        config = client.action_config(stopped["id"], "deployment_start")
    config_file, status_file = tmp_path / "start.yaml", tmp_path / "start.status.yaml"
    config["pluginConfig"] = stack.plugin_config(config["pluginConfig"])  # as the agent passes it
    config_file.write_text(yaml.safe_dump({k: config[k] for k in ("pluginConfig", "peInfo", "deploymentInfo")}))
    subprocess.run([str(Path(sys.executable).parent / "bosun-plugin-runner"), "--plugin", "docker", "--action",
                    "deployment_start", "--config", str(config_file), "--status-file", str(status_file)],
                   env=stack.env, check=True, capture_output=True, timeout=300)
    assert stack.containers(stopped["id"]) and not stack.containers(running["id"])

    stack.start_agent()
    until("the running deployment to be started again",
          lambda: [c for c in stack.containers(running["id"]) if c.healthy], 120)
    until("the stopped deployment's container to be removed", lambda: not stack.containers(stopped["id"]), 120)
    with stack.client() as client:
        assert until("reconcile events", lambda: client.list_events(deployment=running["id"],
                                                                    types=["deployment_reconcile_succeeded"]), 30)
        # The container goes before the plugin's stop returns and the agent records the event: wait for it too.
        try:
            until("the stopped deployment's reconcile event",
                  lambda: client.list_events(deployment=stopped["id"], types=["deployment_reconcile_succeeded"]), 30)
        except AssertionError as exc:
            seen = [f"{e['type']}: {e['message']}" for e in client.list_events(deployment=stopped["id"])]
            raise AssertionError(f"{exc}; its events: {seen}") from None
        # Health is reported on change, not on every check (the agent checks every second here).
        changes = client.list_events(deployment=running["id"], types=["health_changed"])
        assert 1 <= len(changes) <= 6, [e["message"] for e in changes]
    until("traefik to route to the restarted deployment",
          lambda: predict(f"{stack.web}/deployments/{running['id']}/predictions", ROW).status_code == 200, 30)
    stack.cli("deployments", "stop", running["id"], "--wait")
