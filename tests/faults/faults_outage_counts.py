"""A PPS killed during a stream: healed with an event, and every request counted exactly once — the PPS's own
answers as predictions, traefik's 404/502/503/504 while no PPS could answer as system errors (issue 17, 8)."""
from __future__ import annotations

import subprocess
from typing import Any

import httpx

from tests.agent.harness import until
from tests.agent.packages import ROW
from tests.faults.stack import FaultStack, unique

UNDELIVERED = (404, 502, 503, 504)


def stream(stack: FaultStack, deployment_id: str, count: int) -> tuple[int, int, list[str]]:
    """Send count one-row requests; return (answered 200, failed by traefik, anything else)."""
    ok, failed, other = 0, 0, []
    with httpx.Client(timeout=30) as http:
        for _ in range(count):
            response = http.post(f"{stack.web}/deployments/{deployment_id}/predictions", json=[ROW])
            if response.status_code == 200:
                ok += 1
            elif response.status_code in UNDELIVERED:
                failed += 1
            else:
                other.append(f"HTTP {response.status_code}: {response.text[:100]}")
    return ok, failed, other


def figures(stack: FaultStack, deployment_id: str) -> dict[str, Any]:
    with stack.client() as client:
        return client.stats(deployment_id)


def test_pps_killed_mid_stream_counts_every_request_exactly(stack: FaultStack, packages: tuple[str, str]) -> None:
    linear, _ = packages
    with stack.client() as client:
        answer = client.create_deployment(linear, unique("outage"))
        dep = answer["deployment"]["id"]
        client.wait_for_action(answer["action"]["id"], timeout=180)
    # /info is a probe (not a prediction): waiting on it counts nothing.
    until("traefik to route", lambda: httpx.get(f"{stack.web}/deployments/{dep}/info").status_code == 200, 60)
    sent_ok, sent_failed, other = stream(stack, dep, 60)
    # Every answered request reported before the kill: a killed PPS's unsent reports are not this test's subject.
    until("the first answers to be counted", lambda: figures(stack, dep)["predictions"] == sent_ok, 120, every=1)
    pps = next(c for c in stack.containers(dep) if c.healthy)
    subprocess.run(["docker", "kill", pps.name], check=True, capture_output=True)
    # Keep sending through the outage and the heal, until the relaunched PPS answers 30 times.
    outage_failed, after_ok = 0, 0
    for _ in range(600):
        ok, failed, more = stream(stack, dep, 5)
        outage_failed, after_ok, other = outage_failed + failed, after_ok + ok, other + more
        if after_ok >= 30:
            break
    sent_ok, sent_failed = sent_ok + after_ok, sent_failed + outage_failed
    assert other == [], other[:5]
    assert outage_failed > 0, "the kill caused no failed request: nothing to count"
    until(f"{sent_ok} predictions and {sent_failed} system errors to be counted",
          lambda: (f := figures(stack, dep))["predictions"] == sent_ok and f["systemErrors"] == sent_failed, 120,
          every=1)
    stats = figures(stack, dep)
    assert stats["userErrors"] == 0
    assert stats["systemErrorRate"] == sent_failed / (sent_ok + sent_failed)
    with stack.client() as client:
        healed = client.list_events(deployment=dep, types=["deployment_heal_succeeded"])
        assert healed, "no heal event"
        client.delete_deployment(dep)
    print(f"outage: {sent_ok} answered, {sent_failed} failed by traefik; all counted once")
