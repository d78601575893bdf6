"""The management agent killed (-9) during each action type: restarted by its policy, it resumes its own
actions at once (not after their 30 s lease), and each runs to one truthful end with no orphan (issue 17, 9).

One kill lands while four actions of four types run side by side in the agent's lanes (start, replace, relaunch,
stop), a second while a delete runs: two restarts instead of five keep the scenario short."""
from __future__ import annotations

import time
from typing import Any

from bosun_local.client import ServiceClient
from bosun_local.service.timeutil import parse_time
from tests.agent.packages import ROW
from tests.support.stack import WholeStack, unique, until

AGENT = "management-agent"
MODEL = "io.bosun-local.model"
# Between the restarted agent's release of its old leases and its re-claim: plugin_start and the reconcile run
# first. Far less than the 30 s lease it no longer waits for.
RESUME_WITHIN_SEC = 20.0


def crash_during(stack: WholeStack, client: ServiceClient, answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Kill the agent once every action is claimed and under way; return the finished actions."""
    ids = [a["action"]["id"] for a in answers]
    until("every action to be claimed", lambda: all(client.get_action(i)["status"] == "claimed" for i in ids), 120,
          every=0.05)
    time.sleep(0.3)  # each one past its claim, in its plugin run (the quickest, a stop's drain, takes seconds)
    restarts = stack.restarts(AGENT)
    killed_at = time.monotonic()
    stack.crash(AGENT)
    done = [client.wait_for_action(i, timeout=360, poll=0.5) for i in ids]
    took = time.monotonic() - killed_at
    assert [d["status"] for d in done] == ["done"] * len(ids), ([d.get("result") for d in done], stack.logs(AGENT))
    assert [d["attempts"] for d in done] == [2] * len(ids), done  # killed once, resumed once: never a third run
    assert stack.restarts(AGENT) == restarts + 1  # the restart policy brought the agent back
    resumed = [e for e in client.list_events(types=["agent_resumed"], limit=100)
               if set(ids) <= set((e.get("data") or {}).get("actionIds", []))]
    assert len(resumed) == 1, resumed  # its own leases released at once, in one go
    for answer, action in zip(answers, done, strict=True):
        events = [e for e in client.list_events(deployment=answer["deployment"]["id"], limit=500)
                  if (e.get("data") or {}).get("actionId") == action["id"]]
        types = [e["type"] for e in events]
        assert types.count("action_succeeded") == 1 and types.count("action_started") == 2, types
        assert any("resumed after the agent restarted" in e["message"] for e in events), [e["message"] for e in events]
        waited = (parse_time(action["claimedAt"]) - parse_time(resumed[0]["time"])).total_seconds()
        assert waited < RESUME_WITHIN_SEC, f"{action['type']} re-claimed {waited:.1f} s after the agent resumed"
    print(", ".join(d["type"] for d in done), f"done {took:.1f} s after the kill")
    return done


def check_serving(stack: WholeStack, deployment_id: str, model_id: str) -> str:
    """Assert exactly one healthy container, of model_id, and that traefik answers from it; return its id."""
    containers = until("one healthy container", lambda: [c for c in stack.containers(deployment_id) if c.healthy]
                       if len(stack.containers(deployment_id)) == 1 else None, 60)
    assert [c.labels[MODEL] for c in containers] == [model_id]
    until("traefik to answer", lambda: stack.predict(deployment_id, ROW).status_code == 200, 30)
    return str(containers[0].id)


def started(client: ServiceClient, package: str, name: str) -> dict[str, Any]:
    return client.create_deployment(package, unique(name))


def test_agent_crash_during_each_action_type(stack: WholeStack, packages: tuple[str, str], serving: str) -> None:
    linear, ridge = packages
    stack.wait_healthy(AGENT)
    with stack.client() as client:
        relaunch_me, stop_me = started(client, linear, "crash-relaunch"), started(client, linear, "crash-stop")
        for answer in (relaunch_me, stop_me):
            client.wait_for_action(answer["action"]["id"], timeout=240)
        relaunched, stopped = relaunch_me["deployment"]["id"], stop_me["deployment"]["id"]
        before = stack.containers(relaunched)[0].id

        answers = [client.replace_model(serving, ridge), client.relaunch_deployment(relaunched),
                   client.stop_deployment(stopped), started(client, linear, "crash-start")]
        crash_during(stack, client, answers)
        new = answers[3]["deployment"]["id"]
        check_serving(stack, serving, ridge)
        assert client.get_deployment(serving)["packageId"] == ridge
        assert check_serving(stack, relaunched, linear) != before  # a new container
        assert stack.containers(stopped) == [] and client.get_deployment(stopped)["state"] == "stopped"
        check_serving(stack, new, linear)

        # Deleting a stopped deployment has nothing to stop and ends before a kill lands: delete a running one.
        crash_during(stack, client, [client.delete_deployment(new)])
        assert client.get_deployment(new)["deletedAt"] and stack.containers(new) == []
        live = {d["id"] for d in client.list_deployments()}
        assert {c.labels["io.bosun-local.deployment"] for c in stack.containers()} <= live  # no orphan
        for dep in (relaunched, stopped):
            client.delete_deployment(dep)
