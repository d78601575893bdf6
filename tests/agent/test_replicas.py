"""Replicas of a dedicated deployment end to end: scaled and replaced under load with no failed request; autoscaled."""
from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bosun_local.contracts import labels
from bosun_local.engine import adapter
from tests.agent.harness import AgentEnv, agent_env, until
from tests.agent.packages import diabetes_package
from tests.support.load import Load

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stack(stack_images: None) -> Iterator[AgentEnv]:
    with agent_env("brepl", agent_args=["--status-interval-sec", "1", "--poll-sec", "0.1"]) as env:
        yield env


@pytest.fixture(scope="module")
def packages(stack: AgentEnv, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    first = stack.cli_json("packages", "register", str(diabetes_package(tmp_path_factory.mktemp("linear"))))["id"]
    second = stack.cli_json("packages", "register",
                            str(diabetes_package(tmp_path_factory.mktemp("ridge"), alpha=10.0)))["id"]
    return str(first), str(second)


def champions(stack: AgentEnv, deployment_id: str) -> list[adapter.ContainerInfo]:
    return [c for c in stack.containers(deployment_id) if c.labels.get(labels.ROLE, "champion") == "champion"]


def healthy(stack: AgentEnv, deployment_id: str, model: str, count: int) -> bool:
    """Return True when exactly `count` champion containers run, all of `model`, all healthy."""
    found = champions(stack, deployment_id)
    return len(found) == count and all(c.healthy and c.labels[labels.MODEL] == model for c in found)


def hosts_answering(stack: AgentEnv, deployment_id: str, requests: int = 12) -> set[str]:
    """Return the containers (by /info's host) traefik sent a few requests to."""
    with httpx.Client(timeout=10) as http:
        return {http.get(f"{stack.web}/deployments/{deployment_id}/info").json()["host"] for _ in range(requests)}


def done(stack: AgentEnv, answer: dict[str, Any]) -> dict[str, Any]:
    with stack.client() as client:
        action = client.wait_for_action(answer["action"]["id"], timeout=240)
    assert action["status"] == "done", (action.get("result") or {}).get("msg")
    return action


def test_replicas_scale_replace_and_heal_under_load(stack: AgentEnv, packages: tuple[str, str]) -> None:
    first, second = packages
    with stack.client() as client:
        created = client.create_deployment(first, "replicated", key_value_config={"replicas": 2})
    done(stack, created)
    dep = created["deployment"]["id"]
    assert healthy(stack, dep, first, 2)
    assert hosts_answering(stack, dep) == {c.id[:12] for c in champions(stack, dep)}  # traefik balances over both
    url = f"{stack.web}/deployments/{dep}/predictions"
    phases: dict[str, float] = {}
    with Load([url], threads=3, timeout=8) as load:
        until("predictions", lambda: load.ok >= 20, 60)
        # A killed replica: the other serves; the agent's heal relaunches that one only.
        victim = next(c for c in champions(stack, dep) if c.name.endswith("_r2"))
        other = next(c for c in champions(stack, dep) if c.name != victim.name)
        killed_at = phases["kill"] = time.monotonic()
        subprocess.run(["docker", "kill", victim.name], check=True, capture_output=True)
        until("the killed replica relaunched", lambda: healthy(stack, dep, first, 2) and any(
            c.name == victim.name and c.started_at != victim.started_at for c in champions(stack, dep)), 120)
        assert next(c for c in champions(stack, dep) if c.name == other.name).started_at == other.started_at
        with stack.client() as client:
            heal = until("the heal event", lambda: client.list_events(deployment=dep,
                                                                      types=["deployment_heal_succeeded"]), 30)
        assert "relaunched" in heal[0]["message"]
        # SIGKILL loses what the killed replica had accepted, and what traefik sent its vanished address before it
        # saw the container die (at most one request per load thread; those hang until the client's timeout).
        until("requests sent before the kill to end", lambda: time.monotonic() > killed_at + load.timeout + 1, 30)
        assert len(load.failures) <= 3, load.failures[:5]
        load.failures.clear()
        load.failed_at.clear()
        # Blue/green with 2 replicas: the new model's two serve before the old two are drained and stopped.
        phases["replace"] = time.monotonic()
        with stack.client() as client:
            replaced = done(stack, client.replace_model(dep, second))
        assert replaced["result"]["data"]["replicas"] == 2
        assert healthy(stack, dep, second, 2)
        # 2 -> 3 through the CLI: the third starts, turns healthy and is routed before the action ends.
        phases["scale 3"] = time.monotonic()
        scaled = stack.cli_json("deployments", "scale", dep, "3", "--wait")
        assert scaled["action"]["status"] == "done", scaled
        assert healthy(stack, dep, second, 3)
        assert len(hosts_answering(stack, dep)) == 3
        with stack.client() as client:
            assert client.get_deployment(dep)["keyValueConfig"]["replicas"] == 3
        # 3 -> 1: two drained, then stopped.
        phases["scale 1"] = time.monotonic()
        with stack.client() as client:
            down = done(stack, client.scale_deployment(dep, 1))
        assert down["result"]["data"]["previous"] == 3
        assert healthy(stack, dep, second, 1)
        phases["end"] = time.monotonic()
        seen = load.ok
        until("predictions on one replica", lambda: load.ok >= seen + 20, 60)
    when = {k: round(v - killed_at, 1) for k, v in phases.items()}
    assert load.failures == [], (load.failures[:5], [round(t - killed_at, 1) for t in load.failed_at], when)
    with stack.client() as client:
        done(stack, client.stop_deployment(dep))
    assert stack.containers(dep) == []


def test_autoscale_out_and_back_in_on_in_flight_requests(stack: AgentEnv, packages: tuple[str, str]) -> None:
    kv = {"autoscaleMin": 1, "autoscaleMax": 2, "autoscaleTargetInFlight": 0.5, "autoscaleCooldownSec": 3,
          "autoscaleWindowSec": 3}
    with stack.client() as client:
        created = client.create_deployment(packages[0], "autoscaled", key_value_config=kv)
    done(stack, created)
    dep = created["deployment"]["id"]
    assert healthy(stack, dep, packages[0], 1)
    url = f"{stack.web}/deployments/{dep}/predictions"
    with Load([url], threads=6) as load:
        until("a scale out to 2 replicas", lambda: healthy(stack, dep, packages[0], 2), 90)
    assert load.failures == [], load.failures[:5]
    # Idle: after the cooldown of low load it goes back to autoscaleMin.
    until("a scale in to 1 replica", lambda: healthy(stack, dep, packages[0], 1), 90)
    with stack.client() as client:
        steps = client.list_events(deployment=dep, types=["deployment_autoscaled"])
        scales = [a for a in client.list_actions(dep) if a["type"] == "deployment_scale"]
    assert [e["data"]["to"] for e in reversed(steps)] == [2, 1], steps
    assert "autoscaled out 1 -> 2" in steps[-1]["message"] and "in flight" in steps[-1]["message"]
    assert all(a["status"] == "done" and a["params"]["reason"] == "autoscale" for a in scales), scales
    with stack.client() as client:
        done(stack, client.stop_deployment(dep))


def test_bad_replica_settings_fail_the_start_naming_key_and_fix(stack: AgentEnv, packages: tuple[str, str],
                                                                tmp_path: Path) -> None:
    with stack.client() as client:
        created = client.create_deployment(packages[0], "badly-scaled",
                                           key_value_config={"autoscaleMax": 3})
        action = client.wait_for_action(created["action"]["id"], timeout=120)
    assert action["status"] == "failed"
    assert "autoscaleMax=3 has no target" in action["result"]["msg"], action["result"]
    assert "autoscaleTargetInFlight" in action["result"]["msg"]
