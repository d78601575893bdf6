"""The MLOps service killed (-9) while the management agent holds claimed actions: its restart policy brings it back,
it says which actions were held, and every action is done exactly once — none lost, none finished twice (issue 17)."""
from __future__ import annotations

import httpx

from tests.agent.packages import ROW
from tests.support.stack import WholeStack, unique, until

AGENT, SERVICE = "management-agent", "service"
DEPLOYMENTS = 2


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_service_killed_while_the_agent_holds_claims(stack: WholeStack, packages: tuple[str, str]) -> None:
    linear, _ = packages
    stack.wait_healthy(AGENT)
    with stack.client() as client:
        answers = [client.create_deployment(linear, unique(f"claims{i}")) for i in range(DEPLOYMENTS)]
        ids = [a["action"]["id"] for a in answers]
        deps = [a["deployment"]["id"] for a in answers]
        # Both in the agent's lanes (concurrency 4), their plugin runs under way.
        until("every start to be claimed", lambda: all(client.get_action(i)["status"] == "claimed" for i in ids),
              120, every=0.1)
    restarts = stack.restarts(SERVICE)
    stack.crash(SERVICE)
    stack.wait_restarted(SERVICE, restarts, timeout=240)
    assert stack.restarts(SERVICE) == restarts + 1  # the restart policy, not the test, brought it back
    # Healthy inside its container; the host's published port answers too before the test talks to it.
    until("the service on its published port", lambda: _answers(f"{stack.values['serviceUrl']}/health"), 60)
    with stack.client() as client:
        done = [client.wait_for_action(i, timeout=360) for i in ids]
        assert [d["status"] for d in done] == ["done"] * DEPLOYMENTS, [d.get("result") for d in done]
        noted = client.list_events(types=["service_started_with_claims"], limit=10)
        assert noted and set(ids) <= set(noted[0]["data"]["actionIds"]), noted
        for dep, action_id in zip(deps, ids, strict=True):
            events = [e["type"] for e in client.list_events(deployment=dep, limit=200)
                      if (e.get("data") or {}).get("actionId") == action_id]
            assert events.count("action_succeeded") == 1 and "action_failed" not in events, events
            assert client.get_deployment(dep)["state"] == "ready"
            containers = stack.containers(dep)
            assert len(containers) == 1 and containers[0].healthy, containers
            until("traefik to answer", lambda d=dep: stack.predict(d, ROW).status_code == 200, 60)
        live = {d["id"] for d in client.list_deployments()}
        assert {c.labels["io.bosun-local.deployment"] for c in stack.containers()} <= live  # no orphan
        # Held through the outage (attempt 1), or re-run once if the outage outlived the 30 s lease: never more.
        print("attempts:", [d["attempts"] for d in done])
        assert all(d["attempts"] <= 2 for d in done), done
        for dep in deps:
            client.delete_deployment(dep)
