"""The action queue: leases, expiry and re-claim, coalescing, per-deployment order, completion."""
from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from bosun_local.client import ServiceClient, ServiceError

from .helpers import Service, start, unique, write_package

OK = {"status": "passing", "msg": "done", "state": None}


@pytest.fixture(scope="module")
def pkg(service: Service, tmp_path_factory: pytest.TempPathFactory, diabetes_frame: pd.DataFrame) -> dict:
    return service.client.register_package(write_package(tmp_path_factory.mktemp("p"), diabetes_frame))


class Queue:
    """One test's view of the shared service: its own environment, so claims see only its actions."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.client = service.client
        self.env = self.client.create_environment(unique("env"), "test")["id"]

    def deploy(self, pkg: dict, name: str) -> tuple[dict, dict]:
        answer = self.client.create_deployment(pkg["id"], unique(name), environment=self.env)
        return answer["deployment"], answer["action"]

    def claim(self, agent: str, lease_sec: float = 60) -> dict | None:
        return self.client.claim_action(agent, lease_sec, environment=self.env)


@pytest.fixture
def queue(service: Service) -> Queue:
    return Queue(service)


def _wait_until(predicate: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_claim_nothing_is_204(queue: Queue) -> None:
    assert queue.claim("a1") is None
    with pytest.raises(ServiceError) as err:
        queue.client.claim_action("a1", environment="no-such-env")
    assert err.value.status_code == 404 and "environment 'no-such-env' not found" in err.value.message


def test_claims_stay_in_their_environment(queue: Queue, service: Service, pkg: dict) -> None:
    other = Queue(service)
    _, mine = queue.deploy(pkg, "mine")
    _, theirs = other.deploy(pkg, "theirs")
    assert queue.claim("a")["id"] == mine["id"]
    assert queue.claim("a") is None
    assert other.claim("b")["id"] == theirs["id"]


def test_lease_expiry_and_reclaim(queue: Queue, pkg: dict) -> None:
    client = queue.client
    dep, action = queue.deploy(pkg, "leased")
    first = queue.claim("agent-a", lease_sec=1)
    assert first["id"] == action["id"] and first["status"] == "claimed" and first["attempts"] == 1
    assert client.get_deployment(dep["id"])["state"] == "launching"
    assert queue.claim("agent-b", lease_sec=30) is None  # held while the lease runs

    claimed: list[dict | None] = []
    _wait_until(lambda: claimed.append(queue.claim("agent-b", lease_sec=30)) or claimed[-1] is not None)
    second = claimed[-1]
    assert second["id"] == action["id"] and second["agentId"] == "agent-b" and second["attempts"] == 2
    started = client.list_events(deployment=dep["id"], types=["action_started"])
    assert "re-claimed after the lease of agent-a expired" in started[0]["message"]

    with pytest.raises(ServiceError) as err:  # the first agent lost it
        client.complete_action(action["id"], "agent-a", OK)
    assert err.value.status_code == 409 and "is held by agent agent-b, not agent-a" in err.value.message
    with pytest.raises(ServiceError) as err:
        client.renew_action(action["id"], "agent-a", 30)
    assert err.value.status_code == 409

    renewed = client.renew_action(action["id"], "agent-b", 120)
    assert renewed["leaseExpiresAt"] > second["leaseExpiresAt"]
    done = client.complete_action(action["id"], "agent-b", {**OK, "data": {"predictionUrl": "http://h/d"}})
    assert done["status"] == "done" and done["result"]["status"] == "passing"
    assert client.complete_action(action["id"], "agent-b", OK)["status"] == "done"  # a retried completion is fine
    got = client.get_deployment(dep["id"])
    assert got["state"] == "ready" and got["predictionUrl"] == "http://h/d"


def test_a_restarted_agent_takes_back_its_own_actions_at_once(queue: Queue, pkg: dict) -> None:
    """Issue 17 finding 9: no waiting for the lease of a run that died; other agents' leases are left alone."""
    client = queue.client
    dep, action = queue.deploy(pkg, unique("resume"))
    held = queue.claim("agent-r", lease_sec=3600)
    assert held is not None and held["id"] == action["id"]
    assert client.release_actions("someone-else") == []
    assert queue.claim("agent-s", lease_sec=60) is None  # still leased for an hour
    released = client.release_actions("agent-r")
    assert [a["id"] for a in released] == [action["id"]]
    again = queue.claim("agent-r", lease_sec=60)
    assert again is not None and again["id"] == action["id"] and again["attempts"] == 2
    events = client.list_events(deployment=dep["id"], types=["action_started"])
    assert "resumed after the agent restarted" in events[0]["message"]
    resumed = client.list_events(types=["agent_resumed"])
    assert action["id"] in resumed[0]["data"]["actionIds"]
    client.complete_action(action["id"], "agent-r", OK)


def test_exhausted_attempts_fail_the_action(tmp_path: Path, diabetes_frame: pd.DataFrame,
                                            db_env: dict[str, str]) -> None:
    with start(tmp_path / "home", env={"BOSUN_SERVICE_MAX_ACTION_ATTEMPTS": "1", **db_env}) as svc:
        pkg = svc.client.register_package(write_package(tmp_path / "p", diabetes_frame))
        queue = Queue(svc)
        dep, action = queue.deploy(pkg, "doomed")
        assert queue.claim("a", lease_sec=0.2)["attempts"] == 1
        _wait_until(lambda: queue.claim("b", lease_sec=30) is None
                    and svc.client.get_action(action["id"])["status"] == "failed")
        assert svc.client.get_deployment(dep["id"])["state"] == "errored"
        failed = svc.client.list_events(deployment=dep["id"], types=["action_failed"])
        assert "gave up after 1 attempts that never finished" in failed[0]["message"]


def test_coalescing_identical_pending_requests(queue: Queue, pkg: dict, tmp_path: Path,
                                               diabetes_frame: pd.DataFrame) -> None:
    client = queue.client
    dep, first_start = queue.deploy(pkg, "co")
    first = client.stop_deployment(dep["id"])
    again = client.stop_deployment(dep["id"])
    assert not first["coalesced"] and again["coalesced"] and again["action"]["id"] == first["action"]["id"]
    client.start_deployment(dep["id"])
    third = client.stop_deployment(dep["id"])  # stop after start is new intent, not a duplicate
    assert not third["coalesced"]
    other = client.register_package(write_package(tmp_path / "o", diabetes_frame), name=unique("other"))
    r1 = client.replace_model(dep["id"], other["id"])
    r2 = client.replace_model(dep["id"], other["id"])
    assert r2["coalesced"] and r2["action"]["id"] == r1["action"]["id"]
    types = [a["type"] for a in reversed(client.list_actions(dep["id"]))]
    assert types == ["deployment_start", "deployment_stop", "deployment_start", "deployment_stop",
                     "deployment_replace_model"]
    assert len(client.list_events(deployment=dep["id"], types=["action_queued"])) == 4
    # A claimed (running) action is not coalesced into: the same request after it is queued.
    dep2, start2 = queue.deploy(pkg, "co2")
    assert queue.claim("a")["id"] == first_start["id"]
    assert queue.claim("a")["id"] == start2["id"]
    assert not client.start_deployment(dep2["id"])["coalesced"]


def test_per_deployment_order_and_cross_deployment_concurrency(queue: Queue, pkg: dict) -> None:
    client = queue.client
    dep_a, start_a = queue.deploy(pkg, "a")
    stop_a = client.stop_deployment(dep_a["id"])["action"]
    dep_b, start_b = queue.deploy(pkg, "b")

    assert queue.claim("x")["id"] == start_a["id"]
    assert queue.claim("y")["id"] == start_b["id"]  # another deployment runs concurrently
    assert queue.claim("z") is None  # stop_a waits for start_a
    client.complete_action(start_a["id"], "x", {"status": "failing", "msg": "port busy", "state": None})
    assert client.get_deployment(dep_a["id"])["state"] == "errored"
    nxt = queue.claim("z")
    assert nxt["id"] == stop_a["id"]
    client.complete_action(stop_a["id"], "z", {"status": "OK", "msg": "stopped", "state": "stopped"})
    assert client.get_deployment(dep_a["id"])["state"] == "stopped"
    events = [e["type"] for e in reversed(client.list_events(deployment=dep_a["id"]))]
    assert events == ["deployment_created", "action_queued", "action_started", "action_failed",
                      "deployment_state_changed", "action_started", "action_succeeded", "deployment_state_changed"]


def test_replace_and_delete_update_the_deployment(queue: Queue, pkg: dict, tmp_path: Path,
                                                  diabetes_frame: pd.DataFrame) -> None:
    client = queue.client
    dep, _ = queue.deploy(pkg, "life")
    client.complete_action(queue.claim("g")["id"], "g", OK)
    new = client.register_package(write_package(tmp_path / "n", diabetes_frame), name=unique("new"))
    replace = client.replace_model(dep["id"], new["id"])["action"]
    claimed = queue.claim("g")
    assert claimed["id"] == replace["id"] and client.get_deployment(dep["id"])["state"] == "replacingModel"
    client.complete_action(replace["id"], "g", OK)
    got = client.get_deployment(dep["id"])
    assert got["modelId"] == got["packageId"] == new["id"] and got["state"] == "ready"

    delete = client.delete_deployment(dep["id"])
    assert delete["deployment"]["desiredState"] == "deleted"
    with pytest.raises(ServiceError) as err:
        client.start_deployment(dep["id"])
    assert err.value.status_code == 409 and "is being deleted" in err.value.message
    client.complete_action(queue.claim("g")["id"], "g", {"status": "passing", "msg": "gone", "state": None})
    gone = client.get_deployment(dep["id"])
    assert gone["deletedAt"] and gone["state"] == "stopped"
    assert dep["id"] not in [d["id"] for d in client.list_deployments()]
    with pytest.raises(ServiceError) as err:
        client.stop_deployment(dep["id"])
    assert err.value.status_code == 409 and "is deleted" in err.value.message
    # The name is free again once the deployment is deleted.
    assert client.create_deployment(pkg["id"], dep["name"], environment=queue.env)["deployment"]["id"] != dep["id"]


def test_complete_validation(queue: Queue, pkg: dict) -> None:
    client = queue.client
    _, action = queue.deploy(pkg, "v")
    with pytest.raises(ServiceError) as err:
        client.complete_action(action["id"], "nobody", OK)
    assert err.value.status_code == 409 and "is pending, not claimed" in err.value.message
    queue.claim("g")
    with pytest.raises(ServiceError) as err:
        client.complete_action(action["id"], "g", {"status": "great"})
    assert err.value.status_code == 422 and "statusInfo.status 'great'" in err.value.message
    with pytest.raises(ServiceError) as err:
        client.complete_action(action["id"], "g", {"status": "passing", "state": "happy"})
    assert err.value.status_code == 422 and "is not a DeploymentState" in err.value.message
    with pytest.raises(ServiceError) as err:
        client.get_action("f" * 24)
    assert err.value.status_code == 404
    with pytest.raises(ServiceError) as err:
        client.claim_action("", lease_sec=5)
    assert err.value.status_code == 422 and "agentId" in err.value.message


def test_concurrent_claims_never_hand_out_an_action_twice(queue: Queue, pkg: dict) -> None:
    queued = {queue.deploy(pkg, f"par-{n}")[1]["id"] for n in range(12)}

    def claim_all(agent: str) -> list[str]:
        with ServiceClient(queue.service.url, queue.service.token) as own:
            got = []
            while (action := own.claim_action(agent, 300, environment=queue.env)) is not None:
                got.append(action["id"])
            return got

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(claim_all, [f"agent-{n}" for n in range(6)]))
    claimed = [a for r in results for a in r]
    assert sorted(claimed) == sorted(queued)  # each exactly once


def test_a_long_poll_waits_in_the_service_and_answers_with_the_action_queued_meanwhile(queue: Queue,
                                                                                          pkg: dict) -> None:
    with ServiceClient(queue.service.url, queue.service.token) as own, ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(own.claim_action, "long-poller", 60, queue.env, 30)
        time.sleep(1.0)
        assert not waiting.done()  # nothing to claim: it waits in the service rather than answering 204
        _, action = queue.deploy(pkg, "long-poll")
        claimed = waiting.result(timeout=60)
    assert claimed is not None and claimed["id"] == action["id"] and claimed["agentId"] == "long-poller"
    assert queue.client.claim_action("long-poller", environment=queue.env, wait_sec=0.5) is None


def test_a_long_poll_of_a_killed_agent_claims_nothing(queue: Queue, pkg: dict) -> None:
    """An agent killed mid-poll: the action queued next stays for the living (its restart, same id, would not know
    the dead poll took it, and would wait out the lease)."""
    poller = subprocess.Popen([sys.executable, "-c", (
        "import sys; from bosun_local.client import ServiceClient; "
        "c = ServiceClient(sys.argv[1], sys.argv[2]); print('polling', flush=True); "
        "c.claim_action('killed-agent', 60, sys.argv[3], 30)"), queue.service.url, queue.service.token, queue.env],
        stdout=subprocess.PIPE, text=True)
    try:
        assert poller.stdout is not None and poller.stdout.readline().strip() == "polling"
        time.sleep(1.0)  # its claim waits in the service now
        poller.kill()
        poller.wait(30)
        time.sleep(0.5)  # the service sees the connection close
        _, action = queue.deploy(pkg, "after-a-kill")
        time.sleep(1.5)  # a dead poll would have claimed it by now (woken by the queued action's event)
        assert queue.client.get_action(action["id"])["status"] == "pending"
        claimed = queue.claim("killed-agent")
        assert claimed is not None and claimed["id"] == action["id"] and claimed["attempts"] == 1
    finally:
        poller.kill()


def test_an_agent_snapshot_is_the_three_reads_it_replaces(queue: Queue, pkg: dict) -> None:
    dep, action = queue.deploy(pkg, "snap")
    queue.client.delete_deployment(queue.deploy(pkg, "gone")[0]["id"])
    snap = queue.client.agent_snapshot()
    assert snap["environments"] == queue.client.list_environments()
    assert snap["deployments"] == queue.client.list_deployments(include_deleted=True)
    assert any(d["desiredState"] == "deleted" for d in snap["deployments"])
    opened = {a["deploymentId"] for a in queue.client.list_actions(status=("pending", "claimed"), limit=1000)}
    assert set(snap["openActionDeploymentIds"]) == opened and dep["id"] in opened
    claimed = queue.claim("snap-agent")
    assert claimed is not None and claimed["id"] == action["id"]
    queue.client.complete_action(action["id"], "snap-agent", OK)
    assert dep["id"] not in queue.client.agent_snapshot()["openActionDeploymentIds"]
