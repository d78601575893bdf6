"""The management agent killed (-9) during each action type: restarted by its policy, it resumes its own
actions at once (not after their 30 s lease), and each runs to one truthful end with no orphan (issue 17, 9)."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bosun_local.client import ServiceClient
from bosun_local.service.timeutil import parse_time
from tests.agent.packages import ROW
from tests.support.stack import WholeStack, unique, until

AGENT = "management-agent"
# Between the restarted agent's release of its old leases and its re-claim: plugin_start and the reconcile run
# first. Far less than the 30 s lease it no longer waits for.
RESUME_WITHIN_SEC = 20.0


def crash_during(stack: WholeStack, client: ServiceClient, answer: dict[str, Any],
                 mid_action: Callable[[], object]) -> dict[str, Any]:
    """Kill the agent once the action is claimed and mid_action() holds; return the finished action."""
    action_id = answer["action"]["id"]
    until("the action to be claimed mid-way",
          lambda: client.get_action(action_id)["status"] == "claimed" and mid_action(), 120, every=0.05)
    restarts = stack.restarts(AGENT)
    lease = client.get_action(action_id)["leaseExpiresAt"]
    killed_at = time.monotonic()
    stack.crash(AGENT)
    done = client.wait_for_action(action_id, timeout=360, poll=0.5)
    took = time.monotonic() - killed_at
    assert done["status"] == "done", (done, stack.logs(AGENT))
    assert done["attempts"] == 2, done  # killed once, resumed once: never run a third time
    assert stack.restarts(AGENT) == restarts + 1  # the restart policy brought the agent back
    events = client.list_events(deployment=answer["deployment"]["id"], limit=500)
    mine = [e for e in events if (e.get("data") or {}).get("actionId") == action_id]
    assert [e["type"] for e in mine].count("action_succeeded") == 1, [e["type"] for e in mine]
    assert [e["type"] for e in mine].count("action_started") == 2
    assert any("resumed after the agent restarted" in e["message"] for e in mine), [e["message"] for e in mine]
    # The restarted agent released the dead run's lease (still held: not expired) and claimed the action at once.
    resumed = [e for e in client.list_events(types=["agent_resumed"], limit=100)
               if action_id in (e.get("data") or {}).get("actionIds", [])]
    assert len(resumed) == 1, resumed
    waited = (parse_time(done["claimedAt"]) - parse_time(resumed[0]["time"])).total_seconds()
    assert waited < RESUME_WITHIN_SEC, f"{done['type']} re-claimed {waited:.1f} s after the agent resumed"
    print(f"{done['type']}: re-claimed {waited:.1f} s after the agent came back (lease held until {lease}), "
          f"done {took:.1f} s after the kill")
    return done


def serving(stack: WholeStack, deployment_id: str, model_id: str) -> None:
    """Assert exactly one healthy container, of model_id, and that traefik answers from it."""
    containers = until("one healthy container", lambda: [c for c in stack.containers(deployment_id) if c.healthy]
                       if len(stack.containers(deployment_id)) == 1 else None, 60)
    assert [c.labels["io.bosun-local.model"] for c in containers] == [model_id]
    until("traefik to answer", lambda: stack.predict(deployment_id, ROW).status_code == 200, 30)


def test_agent_crash_during_each_action_type(stack: WholeStack, packages: tuple[str, str]) -> None:
    linear, ridge = packages
    stack.wait_healthy(AGENT)
    with stack.client() as client:
        started = client.create_deployment(linear, unique("crash-start"))
        dep = started["deployment"]["id"]
        crash_during(stack, client, started, lambda: stack.containers(dep))
        serving(stack, dep, linear)

        replaced = client.replace_model(dep, ridge)
        crash_during(stack, client, replaced, lambda: len(stack.containers(dep)) == 2)
        serving(stack, dep, ridge)
        assert client.get_deployment(dep)["packageId"] == ridge

        relaunched = client.relaunch_deployment(dep)
        before = stack.containers(dep)[0].id
        crash_during(stack, client, relaunched, lambda: any(c.id != before for c in stack.containers(dep)))
        serving(stack, dep, ridge)

        stopped = client.stop_deployment(dep)
        crash_during(stack, client, stopped, lambda: time.sleep(0.3) or True)
        assert stack.containers(dep) == [] and client.get_deployment(dep)["state"] == "stopped"

        # Deleting a stopped deployment has nothing to stop and ends before a kill lands: delete a running one.
        client.wait_for_action(client.start_deployment(dep)["action"]["id"], timeout=180)
        deleted = client.delete_deployment(dep)
        crash_during(stack, client, deleted, lambda: time.sleep(0.3) or True)
        assert client.get_deployment(dep)["deletedAt"]
        live = {d["id"] for d in client.list_deployments()}
        assert {c.labels["io.bosun-local.deployment"] for c in stack.containers()} <= live  # no orphan
