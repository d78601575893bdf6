"""Shared serving end to end: service, agent, docker plugin, traefik and the PPS pool on the real engine."""
from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from bosun_local.contracts import labels
from bosun_local.engine import adapter
from tests.agent.harness import AgentEnv, agent_env, until
from tests.agent.packages import ROW, broken_package, diabetes_package
from tests.support.load import Load

pytestmark = pytest.mark.docker

DEPLOYMENTS = 20


@pytest.fixture(scope="module")
def stack(stack_images: None) -> Iterator[AgentEnv]:
    with agent_env("bshared", agent_args=["--lease-sec", "10", "--status-interval-sec", "1", "--poll-sec", "0.1",
                                          "--concurrency", str(DEPLOYMENTS)], servingMode="shared") as env:
        try:
            yield env
        finally:
            env.stop_agent()  # else its next check relaunches the replicas removed here
            pool = pool_containers(env)
            adapter.remove_containers([c.name for c in pool], timeout=2)


def pool_containers(stack: AgentEnv) -> list[adapter.ContainerInfo]:
    return adapter.containers_with_labels({labels.COMPONENT: labels.PPS_POOL, labels.NETWORK: stack.name})


def all_done(stack: AgentEnv, answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Wait for every action of the answers (concurrently) and return them."""
    with stack.client() as client, ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda a: client.wait_for_action(a["action"]["id"], timeout=300), answers))


def first_failure(actions: list[dict[str, Any]]) -> str | None:
    """Return the message of the first action that did not end done."""
    return next(((a.get("result") or {}).get("msg") for a in actions if a["status"] != "done"), None)


def served(stack: AgentEnv, deployment_id: str) -> dict[str, Any]:
    response = httpx.get(f"{stack.web}/deployments/{deployment_id}/info", timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_twenty_shared_deployments_under_load(stack: AgentEnv, tmp_path: Path) -> None:
    first = stack.cli_json("packages", "register", str(diabetes_package(tmp_path / "linear")))["id"]
    second = stack.cli_json("packages", "register", str(diabetes_package(tmp_path / "ridge", alpha=10.0)))["id"]
    broken = stack.cli_json("packages", "register", str(broken_package(tmp_path / "broken")))["id"]
    with stack.client() as client:
        answers = [client.create_deployment(first, f"shared-{i}") for i in range(DEPLOYMENTS)]
    done = all_done(stack, answers)
    assert [a["status"] for a in done] == ["done"] * DEPLOYMENTS, first_failure(done)
    ids = [a["deployment"]["id"] for a in answers]
    urls = [f"{stack.web}/deployments/{i}/predictions" for i in ids]
    assert stack.containers() == [], "shared deployments must not get containers of their own"
    pool = pool_containers(stack)
    assert len(pool) == 2 and all(c.healthy for c in pool), pool
    for dep_id in ids[:3]:
        info = served(stack, dep_id)  # each deployment keeps its own ids (what its reports carry)
        assert (info["deploymentId"], info["modelId"]) == (dep_id, first)
    # DataRobot's route reaches the pool too.
    predapi = httpx.post(f"{stack.web}/predApi/v1.0/deployments/{ids[0]}/predictions", json=[ROW], timeout=10)
    assert predapi.status_code == 200, predapi.text

    with Load(urls) as load:
        until("predictions on every deployment", lambda: load.ok >= 2 * DEPLOYMENTS, 60)
        # A package that does not load fails its own deployment and nobody else's.
        with stack.client() as client:
            bad = client.create_deployment(broken, "shared-broken")
            failed = client.wait_for_action(bad["action"]["id"], timeout=120)
            assert failed["status"] == "failed", failed
            assert "does not load" in failed["result"]["msg"] and "pickle" in failed["result"]["msg"].lower(), failed
            assert client.get_deployment(bad["deployment"]["id"])["state"] == "errored"
            replaced = [client.replace_model(dep_id, second) for dep_id in ids]
        done = all_done(stack, replaced)
        assert [a["status"] for a in done] == ["done"] * DEPLOYMENTS, first_failure(done)
        seen = load.ok
        until("predictions after the replacements", lambda: load.ok >= seen + 2 * DEPLOYMENTS, 60)
        # A broken replacement keeps the old model serving.
        with stack.client() as client:
            kept = client.wait_for_action(client.replace_model(ids[0], broken)["action"]["id"], timeout=120)
        assert kept["status"] == "failed" and kept["result"]["data"]["oldModelInUse"] is True, kept
        # A pool replica killed: the other one serves; the agent's next check relaunches it and records an event.
        victim = next(c for c in pool_containers(stack) if c.name.endswith("-1"))
        assert load.failures == [], load.failures[:5]
        killed_at = time.monotonic()
        subprocess.run(["docker", "kill", victim.name], check=True, capture_output=True)
        until("the killed replica to be relaunched and healthy",
              lambda: [c for c in pool_containers(stack) if c.name == victim.name and c.healthy
                       and c.started_at != victim.started_at], 120)
        healthy_after = time.monotonic() - killed_at
        with stack.client() as client:
            events = until("the relaunch event", lambda: client.list_events(types=["pool_replica_relaunched"]), 30)
        assert victim.name in events[0]["message"]
        # SIGKILL loses what the killed process had already accepted: traefik answers 502, or drops the client's
        # connection when the replica died mid-answer. That is one in-flight request per load thread, and at most
        # one more sent on a keep-alive connection traefik picked as the kernel closed it (written, so traefik's
        # retry may not resend it). Nothing fails once traefik has dropped the dead replica.
        lost = ("HTTP 502", "Server disconnected without sending a response")
        when = [round(at - killed_at, 2) for at in load.failed_at]
        said = (when, f"relaunched replica healthy after {healthy_after:.1f}s", load.failures[:6])
        assert all(0 <= t <= healthy_after for t in when), said
        assert len(load.failures) <= 2 * load.threads and all(any(m in f for m in lost) for f in load.failures), said
        load.failures.clear()
        load.failed_at.clear()
        # poolReplicas changed at runtime: a third replica joins once it loaded every dir, then leaves drained.
        with stack.client() as client:
            config = client.get_environment("docker")["pluginConfig"]
            client.update_environment("docker", pluginConfig={**config, "poolReplicas": 3})
            until("a third healthy pool replica", lambda: len([c for c in pool_containers(stack) if c.healthy]) == 3,
                  120)
            client.update_environment("docker", pluginConfig={**config, "poolReplicas": 2})
            until("the third replica gone", lambda: len(pool_containers(stack)) == 2, 120)
            scaled = until("two pool_scaled events",
                           lambda: len(found := client.list_events(types=["pool_scaled"])) >= 2 and found, 30)
        assert [e["data"]["replicas"] for e in reversed(scaled)] == [3, 2], scaled
        assert load.failures == [], load.failures[:5]
        # Half the deployments stop while the load moves to the other half.
        load.urls = urls[: DEPLOYMENTS // 2]
        time.sleep(0.5)  # requests already sent to the other half finish first
        with stack.client() as client:
            stopping = [client.stop_deployment(dep_id) for dep_id in ids[DEPLOYMENTS // 2:]]
        done = all_done(stack, stopping)
        assert [a["status"] for a in done] == ["done"] * len(stopping), first_failure(done)
        seen = load.ok
        until("predictions after the stops", lambda: load.ok >= seen + DEPLOYMENTS, 60)
    assert load.failures == [], load.failures[:5]
    assert served(stack, ids[0])["modelId"] == second
    assert all(served(stack, dep_id)["modelId"] == second for dep_id in ids[1: DEPLOYMENTS // 2])
    assert httpx.post(urls[-1], json=[ROW], timeout=10).status_code == 404
    with stack.client() as client:
        stopped = [client.stop_deployment(dep_id) for dep_id in ids[: DEPLOYMENTS // 2]]
        stopped.append(client.stop_deployment(bad["deployment"]["id"]))
    assert all(a["status"] == "done" for a in all_done(stack, stopped))
    assert not any((stack.home / "stacks").glob(f"*shared-pool/deployments/deployment_{ids[0]}"))
