"""The agent's action, reconcile and heal logic against the `test` plugin: a real service, no container engine."""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bosun_local.agent.action_worker import ActionWorker
from bosun_local.agent.autoscaler import Autoscaler
from bosun_local.agent.lanes import Lanes
from bosun_local.agent.plugin_host import PluginHost
from bosun_local.agent.reporting import Reporter
from bosun_local.agent.settings import AgentSettings
from bosun_local.agent.watch import Watcher
from bosun_local.client import ServiceClient
from tests.agent.packages import diabetes_package
from tests.support.service import running_service

# The test plugin sleeps this long in every action: zero, so each test runs in seconds.
NO_SLEEPS = {key: 0 for key in ("launch_time_sec", "stop_time_sec", "replace_model_time_sec", "pe_status_time_sec",
                                "deployment_status_time_sec", "deployment_list_time_sec", "plugin_start_time",
                                "plugin_stop_time")}


@dataclass
class Agent:
    """The agent's parts wired as ManagementAgent wires them, driven one step at a time by the test."""

    client: ServiceClient
    worker: ActionWorker
    watcher: Watcher
    lanes: Lanes
    state: Path

    def run_queued_actions(self) -> None:
        """Claim and run every queued action, then wait until the lanes are idle."""
        while self.worker.claim_once():
            pass
        assert self.lanes.wait_idle(60)

    def settle(self) -> None:
        """Wait for repairs the watcher queued."""
        assert self.lanes.wait_idle(60)

    def instance(self, deployment_id: str) -> Path:
        return self.state / f"deployment_{deployment_id}.yaml"

    def events(self, deployment_id: str, type_: str) -> list[dict[str, Any]]:
        return self.client.list_events(deployment=deployment_id, types=[type_])


class ScopedClient(ServiceClient):
    """The real client, seeing one environment: the service's default docker environment is not this test's."""

    environment = ""

    def list_environments(self) -> list[dict[str, Any]]:
        return [e for e in super().list_environments() if e["name"] == self.environment]

    def agent_snapshot(self) -> dict[str, Any]:
        read = super().agent_snapshot()
        return {**read, "environments": [e for e in read["environments"] if e["name"] == self.environment]}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    home = tmp_path_factory.mktemp("reconcile")
    with running_service(home / "home") as (url, token):
        yield url, token, home


@pytest.fixture
def agent(service: tuple[str, str, Path], tmp_path: Path) -> Iterator[Agent]:
    url, token, _home = service
    env_name = f"t-{tmp_path.name}"[:90]

    def factory() -> ServiceClient:
        client = ScopedClient(url, token)
        client.environment = env_name
        return client

    # No long poll: run_queued_actions claims until the queue is empty.
    settings = AgentSettings(agent_id=f"test-{tmp_path.name}", concurrency=2, heal_backoff_sec=0.1, claim_wait_sec=0)
    lanes = Lanes(settings.concurrency)
    host = PluginHost(tmp_path / "agent", settings.action_timeout_sec)
    reporter = Reporter(factory(), settings.agent_id)
    client = factory()
    state = tmp_path / "test-plugin"
    client.create_environment(env_name, "test", {"tmp_dir": str(state), **NO_SLEEPS})
    watcher = Watcher(factory, host, lanes, settings, reporter)
    watcher.autoscaler = Autoscaler(factory, reporter)
    yield Agent(client, ActionWorker(factory, host, lanes, settings), watcher, lanes, state)
    lanes.shutdown()
    client.close()


def deploy(agent: Agent, tmp_path: Path, name: str) -> dict[str, Any]:
    """Register a package and deploy it to the test environment; the agent runs the start action."""
    package = agent.client.register_package(diabetes_package(tmp_path / f"pkg-{name}"), name=f"{name}-{tmp_path.name}")
    env_name = agent.client.list_environments()[0]["name"]
    dep = agent.client.create_deployment(package["id"], f"{name}-{tmp_path.name}", environment=env_name)["deployment"]
    agent.run_queued_actions()
    return agent.client.get_deployment(dep["id"])


def test_actions_run_through_the_plugin_and_a_lost_instance_is_healed(agent: Agent, tmp_path: Path) -> None:
    dep = deploy(agent, tmp_path, "healme")
    assert dep["state"] == "ready"
    assert yaml.safe_load(agent.instance(dep["id"]).read_text())["model_id"] == dep["modelId"]
    agent.watcher.reconcile()  # plugin_start: the test plugin's pe file, so pe_status reports each deployment
    agent.watcher.tick()
    agent.settle()
    assert agent.watcher.heals == 0  # healthy: nothing to do

    agent.instance(dep["id"]).unlink()  # the instance dies behind the agent's back
    agent.watcher.tick()
    agent.settle()
    assert agent.instance(dep["id"]).exists()
    assert agent.watcher.heals == 1
    [started] = agent.events(dep["id"], "deployment_heal_started")
    assert "relaunching it" in started["message"]
    [healed] = agent.events(dep["id"], "deployment_heal_succeeded")
    assert healed["data"]["action"] == "deployment_relaunch"
    assert agent.client.get_deployment(dep["id"])["state"] == "ready"


def test_a_failing_heal_backs_off_and_is_reported(agent: Agent, tmp_path: Path) -> None:
    dep = deploy(agent, tmp_path, "failheal")
    agent.watcher.reconcile()
    env = agent.client.list_environments()[0]
    agent.client.update_environment(env["id"], pluginConfig={**env["pluginConfig"], "raise_exception": True})
    agent.instance(dep["id"]).unlink()
    agent.watcher.tick()  # pe_status itself fails: the agent asks deployment_status, which fails too -> heal
    agent.settle()
    [failed] = agent.events(dep["id"], "deployment_heal_failed")
    assert failed["data"]["retryInSec"] == pytest.approx(0.1)
    agent.watcher.tick()  # within the backoff: no second heal yet
    agent.settle()
    assert len(agent.events(dep["id"], "deployment_heal_failed")) <= 2
    agent.client.update_environment(env["id"], pluginConfig={**env["pluginConfig"], "raise_exception": False})
    deadline = time.monotonic() + 30
    while not agent.instance(dep["id"]).exists() and time.monotonic() < deadline:
        agent.watcher.tick()
        agent.settle()
        time.sleep(0.1)  # a check is quick: let the failed heals' backoff (0.1 s, doubling) run out between them
    assert agent.instance(dep["id"]).exists()
    assert agent.events(dep["id"], "deployment_heal_succeeded")


def test_reconcile_starts_what_should_run_and_stops_what_should_not(agent: Agent, tmp_path: Path) -> None:
    running = deploy(agent, tmp_path, "shouldrun")
    stopped = deploy(agent, tmp_path, "shouldstop")
    agent.client.stop_deployment(stopped["id"])
    agent.run_queued_actions()
    assert not agent.instance(stopped["id"]).exists()
    # While no agent runs: one instance is lost, the other comes back although its deployment is stopped.
    lost = agent.instance(running["id"]).read_text()
    agent.instance(running["id"]).unlink()
    agent.instance(stopped["id"]).write_text(lost)

    agent.watcher.reconcile()
    agent.settle()
    assert agent.instance(running["id"]).exists() and not agent.instance(stopped["id"]).exists()
    [start] = agent.events(running["id"], "deployment_reconcile_succeeded")
    assert start["data"]["action"] == "deployment_start"
    [stop] = agent.events(stopped["id"], "deployment_reconcile_succeeded")
    assert stop["data"]["action"] == "deployment_stop"


def test_metrics_count_actions_and_heals(agent: Agent, tmp_path: Path) -> None:
    from types import SimpleNamespace

    import httpx

    from bosun_local.agent.metrics import render
    from bosun_local.metrics.listener import MetricsListener
    from tests.support.prometheus_text import parse, value

    dep = deploy(agent, tmp_path, "metered")
    agent.client.stop_deployment(dep["id"])
    agent.run_queued_actions()
    agent.client.start_deployment(dep["id"])
    agent.run_queued_actions()
    agent.watcher.reconcile()
    agent.instance(dep["id"]).unlink()
    agent.watcher.tick()
    agent.settle()
    parts = SimpleNamespace(worker=agent.worker, lanes=agent.lanes, watcher=agent.watcher,
                            autoscaler=agent.watcher.autoscaler, environment=None)
    listener = MetricsListener(lambda: render(parts), "127.0.0.1", 0).start()  # type: ignore[arg-type]
    try:
        samples = parse(httpx.get(f"http://127.0.0.1:{listener.port}/metrics", timeout=10).text)
    finally:
        listener.stop()
    assert value(samples, "bosun_agent_actions_total", type="deployment_start", outcome="passing") == 2
    assert value(samples, "bosun_agent_actions_total", type="deployment_stop", outcome="passing") == 1
    assert value(samples, "bosun_agent_action_duration_seconds_count", type="deployment_start") == 2
    assert value(samples, "bosun_agent_heals_total") == 1
    assert value(samples, "bosun_agent_actions_running") == 0
