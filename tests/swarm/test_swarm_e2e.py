"""The swarm plugin on a real two-node swarm, driven through bosun-plugin-runner as the management agent drives it.

traefik (swarm provider) routes to a deployment of 2 replicas spread over both nodes; a replace under load fails
no request; the worker's engine is killed and the deployment keeps answering while its tasks move to the manager.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from bosun_local.contracts import labels
from bosun_local.engine.swarm import STACK_LABEL, SwarmEngine
from bosun_local.errors import EngineError
from bosun_local.spool.rabbitmq.config import RabbitChannelConfig
from tests.agent.packages import ROW, broken_package, diabetes_package
from tests.plugins.plugin_helpers import DEP_ID, MODEL_A, MODEL_B, PE_ID, Runner
from tests.support.monitoring import agent_running, fast_config, predictions, start_service, wait_until
from tests.support.swarm_nodes import SwarmNodes
from tests.swarm.conftest import SwarmBroker

pytestmark = pytest.mark.docker
SHARED_ID = "eeeeeeeeeeeeeeeeeeeeeeee"


class Load:
    """Send predictions in a loop from some threads, counting answers by outcome."""

    def __init__(self, url: str, threads: int = 2) -> None:
        self.url, self.outcomes, self.stop = url, Counter[str](), threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(timeout=15.0) as http:
            while not self.stop.is_set():
                try:
                    outcome = str(http.post(self.url, json=[ROW]).status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                with self.lock:
                    self.outcomes[outcome] += 1

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def run(runner: Runner, action: str, plugin: dict[str, Any], timeout: float = 300, **sections: Any) -> dict[str, Any]:
    """Run one swarm plugin action through bosun-plugin-runner and return its status file."""
    result = runner("--plugin=swarm", f"--action={action}", "--config",
                    runner.config(f"{action}.yaml", plugin, **sections), timeout=timeout)
    assert result.status is not None, f"{action}: no status file; stderr:\n{result.stderr[-3000:]}"
    return result.status


def nodes_of(status: dict[str, Any]) -> list[str]:
    """Return the nodes of the running tasks in a status's data, sorted."""
    return sorted(str(t["node"]) for t in status["data"]["tasks"] if t["state"] == "running")


def load_seconds(web: str, deployment_id: str, replicas: int, within: float = 15.0) -> set[str]:
    """Return the distinct model load times the replicas answering through traefik report (one per replica).

    Ask until `replicas` answered or `within` seconds passed: traefik's swarm provider lists tasks every second, so a
    task that turned healthy a moment ago may not be routed yet (CI saw one of two, once).
    """
    seen: set[str] = set()
    deadline = time.monotonic() + within
    while len(seen) < replicas and time.monotonic() < deadline:
        text = httpx.get(f"{web}/deployments/{deployment_id}/metrics", timeout=10).text
        seen |= {line.rsplit(" ", 1)[1] for line in text.splitlines()
                 if line.startswith("bosun_pps_model_load_seconds{")}
        time.sleep(0.1)
    return seen


def check_shared(swarm: SwarmNodes, run_action: Any, web: str, pkgs: list[Path], phases: dict[str, float]) -> int:
    """Serve a deployment from the swarm's shared pool on both nodes; replace it under load; fail a load; stop it.

    Return the predictions it answered (each a monitoring record from a task on either node).
    """
    manager, worker = swarm.manager, swarm.workers[0]

    def shared(model: str, artifact: Path) -> dict[str, Any]:
        return {"id": SHARED_ID, "modelId": model, "name": "pooled", "modelArtifact": str(artifact),
                "modelExecutionType": "dedicated", "keyValueConfig": {"serving": "shared"}}

    clock = time.monotonic()
    started = run_action("deployment_start", shared(MODEL_A, pkgs[0]))
    phases["pool start"] = time.monotonic() - clock
    assert started["status"] == "passing", started["msg"]
    assert "shared pool" in started["msg"]
    pe_status = run_action("pe_status", None)
    assert sorted(t["node"] for t in pe_status["data"]["pool"] if t["state"] == "running") == \
        sorted([manager.hostname, worker.hostname])
    assert pe_status["data"]["deploymentsStatus"][SHARED_ID]["data"]["serving"] == "shared"
    url = f"{web}/deployments/{SHARED_ID}/predictions"
    answered = int(httpx.post(url, json=[ROW], timeout=15).status_code == 200)
    assert answered == 1
    # Both tasks answer through traefik (each reports its own model load time).
    assert len(load_seconds(web, SHARED_ID, 2)) == 2
    with Load(url) as load:
        time.sleep(1)
        clock = time.monotonic()
        replaced = run_action("deployment_replace_model", shared(MODEL_B, pkgs[1]))
        phases["pool replace"] = time.monotonic() - clock
        time.sleep(1)
    assert replaced["status"] == "passing", replaced["msg"]
    assert set(load.outcomes) == {"200"} and load.outcomes["200"] > 10, load.outcomes
    answered += load.outcomes["200"]
    print(f"swarm e2e: under the pool replace {dict(load.outcomes)}")
    assert MODEL_B in httpx.get(f"{web}/deployments/{SHARED_ID}/info", timeout=10).text
    # A model that does not load fails its own action only: the old one keeps serving, the dedicated one too.
    failed = run_action("deployment_replace_model", shared("f" * 24, pkgs[2]))
    assert failed["status"] == "failing" and "does not load in the shared pool" in failed["msg"], failed["msg"]
    assert failed["data"]["oldModelInUse"] is True
    assert MODEL_B in httpx.get(f"{web}/deployments/{SHARED_ID}/info", timeout=10).text
    assert httpx.post(f"{web}/deployments/{DEP_ID}/predictions", json=[ROW], timeout=15).status_code == 200
    return answered


def stop_shared(swarm: SwarmNodes, run_action: Any, web: str) -> None:
    """Stop the pooled deployment, then remove the pool (the node loss that follows concerns the dedicated one)."""
    stopped = run_action("deployment_stop", {"id": SHARED_ID})
    assert stopped["status"] == "passing" and stopped["state"] == "stopped", stopped["msg"]
    assert httpx.get(f"{web}/deployments/{SHARED_ID}/info", timeout=10).status_code == 404
    swarm.manager.engine().remove_stack("swarm_shared-pool")


def check_nodes(swarm: SwarmNodes, images: list[str]) -> None:
    """Assert the swarm is a manager and a worker, each its own engine with the images, and the host stays apart."""
    nodes = swarm.manager.engine().nodes()
    assert [(n.role, n.state, n.availability) for n in nodes] == [("manager", "ready", "active"),
                                                                  ("worker", "ready", "active")]
    assert [n.hostname for n in nodes] == [swarm.manager.hostname, swarm.workers[0].hostname]
    infos = [node.engine().swarm_info() for node in swarm.nodes]
    assert [(i["LocalNodeState"], bool(i["ControlAvailable"])) for i in infos] == [("active", True), ("active", False)]
    assert len({i["NodeID"] for i in infos}) == 2
    assert all(node.engine().image_exists(image) for node in swarm.nodes for image in images)
    # The engine running everybody's Compose stacks stays out of swarm mode.
    assert SwarmEngine().swarm_info()["LocalNodeState"] == "inactive"


def test_a_deployment_on_two_nodes_survives_a_replace_and_the_loss_of_a_node(swarm: SwarmNodes, swarm_images: list[str],
                                                                            swarm_broker: SwarmBroker,
                                                                            tmp_path: Path) -> None:
    check_nodes(swarm, swarm_images)
    manager, worker = swarm.manager, swarm.workers[0]
    shared = swarm.shared_dir
    pkg_a, pkg_b = diabetes_package(shared / "pkg-a"), diabetes_package(shared / "pkg-b", alpha=0.5)
    broken = broken_package(shared / "pkg-broken")
    for path in (pkg_a, pkg_b, broken):
        path.chmod(0o755)
        for f in path.iterdir():
            f.chmod(0o644)  # the PPS runs as nobody
    web = f"http://{manager.address}:80"
    plugin = {"swarmDockerHost": manager.host, "dockerNetwork": f"{swarm.name}-net", "projectName": swarm.name,
              "containerNamePrefix": "swarm_", "outfacingPredictionURLPrefix": web, "traefikUrl": web,
              "monitoringEnabled": False, "ppsReplicas": 2, "stacksDir": str(shared / "stacks"),
              "runAsUser": "65534:65534", "startTimeoutSec": 240,
              # The images loaded into the nodes (the config's, BOSUN_* overrides included).
              "ppsBaseImage": swarm_images[0], "traefikImage": swarm_images[1]}
    runner = Runner(tmp_path)
    pe = {"id": PE_ID, "name": "swarm", "deployments": [DEP_ID]}

    def info(model: str, artifact: Path) -> dict[str, Any]:
        return {"id": DEP_ID, "modelId": model, "name": "diabetes", "modelArtifact": str(artifact),
                "modelExecutionType": "dedicated",
                "keyValueConfig": {}}

    started = run(runner, "plugin_start", plugin, peInfo=pe)
    assert started["status"] == "passing", started["msg"]
    assert sorted(n["role"] for n in started["data"]["nodes"]) == ["manager", "worker"]

    clock = time.monotonic()
    status = run(runner, "deployment_start", plugin, peInfo=pe, deploymentInfo=info(MODEL_A, pkg_a))
    phases = {"start": time.monotonic() - clock}
    assert status["status"] == "passing", status["msg"]
    # Spread: one task on each node, each its own engine.
    assert nodes_of(status) == sorted([manager.hostname, worker.hostname])
    url = f"{web}/deployments/{DEP_ID}/predictions"
    first = httpx.post(url, json=[ROW], timeout=15)
    assert first.status_code == 200, first.text
    stack_file = Path(status["data"]["stackFile"])
    assert "order: start-first" in stack_file.read_text()

    # Replace under load: swarm starts each new task before stopping an old one; no request may fail.
    with Load(url) as load:
        time.sleep(2)
        clock = time.monotonic()
        replaced = run(runner, "deployment_replace_model", plugin, peInfo=pe, deploymentInfo=info(MODEL_B, pkg_b))
        phases["replace"] = time.monotonic() - clock
        time.sleep(2)
    assert replaced["status"] == "passing", replaced["msg"]
    assert {t["modelId"] for t in replaced["data"]["tasks"] if t["state"] == "running"} == {MODEL_B}
    # Still one task per node: a start-first update can put both on one node, which the plugin spreads again
    # (else losing that node leaves no task, and the path answers 404 until swarm reschedules).
    assert nodes_of(replaced) == sorted([manager.hostname, worker.hostname]), replaced["data"]["tasks"]
    print(f"swarm e2e: replace: {replaced['msg']}")
    assert set(load.outcomes) == {"200"} and load.outcomes["200"] > 20, load.outcomes
    assert MODEL_B in httpx.get(f"{web}/deployments/{DEP_ID}/info", timeout=10).text

    # The pool reports to the environment's broker, which runs outside the swarm (as on another host): its tasks on
    # both nodes reach it at swarmRabbitmqAddress with rabbitmqNetworkUrl's login; an agent stores what they send.
    monitored = {**plugin, "monitoringEnabled": True, "rabbitmqNetworkUrl": swarm_broker.network_url,
                 "swarmRabbitmqAddress": swarm_broker.address, "rabbitmqQueueName": swarm_broker.queue}

    def run_action(action: str, deployment: dict[str, Any] | None) -> dict[str, Any]:
        return run(runner, action, monitored, peInfo={**pe, "deployments": [DEP_ID, SHARED_ID]},
                   **({"deploymentInfo": deployment} if deployment else {}))

    channels = (RabbitChannelConfig(swarm_broker.broker.url, swarm_broker.queue),)
    with start_service(tmp_path / "service") as service, agent_running(fast_config(service, channels)) as agent:
        sent = check_shared(swarm, run_action, web, [pkg_a, pkg_b, broken], phases)
        try:
            wait_until(lambda: predictions(service, SHARED_ID) >= sent, f"{sent} predictions of the pool stored", 60)
        except AssertionError:
            logs = swarm.manager.engine().service_logs("swarm_shared-pool_pps", tail=30)
            raise AssertionError(f"{predictions(service, SHARED_ID)} of {sent} predictions stored; the pool's "
                                 f"log:\n{logs}") from None
        time.sleep(2)  # nothing more arrives: none counted twice
        assert predictions(service, SHARED_ID) == sent and agent.counters.duplicates == 0
        print(f"swarm e2e: monitoring from pool tasks on both nodes: {sent} predictions answered, "
              f"{predictions(service, SHARED_ID)} stored")
    stop_shared(swarm, run_action, web)

    # Node loss: the worker's engine dies with its task; the manager's task keeps answering, swarm reschedules.
    # A request already sent to the lost node's task (or on a pooled connection to it) hangs until the client's
    # timeout: several load threads, so one stuck there does not hide the answers the others get meanwhile.
    with Load(url, threads=4) as outage:
        swarm.kill(worker)
        clock = time.monotonic()
        deadline = clock + 180
        while True:
            status = run(runner, "deployment_status", plugin, peInfo=pe, deploymentInfo=info(MODEL_B, pkg_b))
            if nodes_of(status) == [manager.hostname, manager.hostname] or time.monotonic() > deadline:
                break
            time.sleep(2)
        phases["rescheduled"] = time.monotonic() - clock
        time.sleep(max(0.0, 16 - phases["rescheduled"]))  # past the client timeout of a request stuck on the node
    assert nodes_of(status) == [manager.hostname, manager.hostname], status
    assert status["status"] == "passing" and status["state"] == "ready", status["msg"]
    assert outage.outcomes["200"] > 0 and "404" not in outage.outcomes, outage.outcomes
    # Once rescheduled, every request is answered.
    with Load(url) as steady:
        time.sleep(3)
    assert set(steady.outcomes) == {"200"}, steady.outcomes
    # Seen by `pytest -s`: what the report quotes (no threshold on them here).
    print(f"swarm e2e: {({k: round(v, 1) for k, v in phases.items()})}; under the replace {dict(load.outcomes)}; "
          f"while the worker was lost {dict(outage.outcomes)}")

    # Seen by `pytest -s`: traefik's own account of the node loss (warnings only).
    print(manager.engine().service_logs(f"{swarm.name}-traefik_traefik", tail=15))
    pe_status = run(runner, "pe_status", plugin, peInfo=pe)
    assert pe_status["status"] == "warning", pe_status["msg"]
    by_host = {n["hostname"]: n["state"] for n in pe_status["data"]["nodes"]}
    assert by_host == {manager.hostname: "ready", worker.hostname: "down"}
    tasks = pe_status["data"]["deploymentsStatus"][DEP_ID]["data"]["tasks"]
    assert sorted(t["node"] for t in tasks if t["state"] == "running") == [manager.hostname] * 2

    stopped = run(runner, "deployment_stop", plugin, peInfo=pe, deploymentInfo={"id": DEP_ID})
    assert stopped["status"] == "passing" and stopped["state"] == "stopped", stopped["msg"]
    engine = manager.engine()
    assert engine.services({STACK_LABEL: f"swarm_{DEP_ID}"}) == []
    assert engine.services({labels.DEPLOYMENT: DEP_ID}) == []
    assert not (shared / "stacks" / f"swarm_{DEP_ID}").exists()
    assert httpx.get(f"{web}/deployments/{DEP_ID}/info", timeout=10).status_code == 404
    # The node removed from the swarm, as an operator would after losing its host.
    engine.remove_node(next(n.id for n in engine.nodes() if n.hostname == worker.hostname))
    assert [n.hostname for n in engine.nodes()] == [manager.hostname]
    # The environment's edge goes too: no service and no overlay network of ours is left on the swarm.
    engine.remove_stack(f"{swarm.name}-traefik")
    deadline = time.monotonic() + 60
    while engine.services({}) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert engine.services({}) == []
    # The tasks' containers release their overlay endpoints a moment after their services are gone.
    deadline = time.monotonic() + 60
    while engine.network_exists(plugin["dockerNetwork"]) and time.monotonic() < deadline:
        try:
            engine.remove_network(plugin["dockerNetwork"])
        except EngineError:
            pass  # still has active endpoints
        time.sleep(1)
    assert not engine.network_exists(plugin["dockerNetwork"])
