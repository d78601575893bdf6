"""A PPS killed during a stream: healed with an event, and every request counted exactly once — the PPS's own
answers as predictions, traefik's 404/502/503/504 while no PPS could answer as system errors (issue 17, 8)."""
from __future__ import annotations

import subprocess
import time
from collections import Counter
from typing import Any

import httpx

from tests.agent.packages import ROW
from tests.support.stack import WholeStack, until

UNDELIVERED = (404, 502, 503, 504)


def stream(stack: WholeStack, deployment_id: str, count: int, codes: Counter[int]) -> tuple[int, int, list[str]]:
    """Send count one-row requests; return (answered 200, failed by traefik, anything else); tally codes."""
    ok, failed, other = 0, 0, []
    with httpx.Client(timeout=30) as http:
        for _ in range(count):
            response = http.post(f"{stack.web}/deployments/{deployment_id}/predictions", json=[ROW])
            codes[response.status_code] += 1
            if response.status_code == 200:
                ok += 1
            elif response.status_code in UNDELIVERED:
                failed += 1
            else:
                other.append(f"HTTP {response.status_code}: {response.text[:100]}")
    return ok, failed, other


def figures(stack: WholeStack, deployment_id: str) -> dict[str, Any]:
    with stack.client() as client:
        return client.stats(deployment_id)


def test_pps_killed_mid_stream_counts_every_request_exactly(stack: WholeStack, serving: str) -> None:
    dep = serving
    # /info is a probe (not a prediction): waiting on it counts nothing.
    until("traefik to route", lambda: httpx.get(f"{stack.web}/deployments/{dep}/info").status_code == 200, 120)
    base = figures(stack, dep)  # the shared deployment served other faults first: count from here
    codes: Counter[int] = Counter()
    sent_ok, sent_failed, other = stream(stack, dep, 60, codes)
    # Every answered request reported before the kill: a killed PPS's unsent reports are not this test's subject.
    until("the first answers to be counted",
          lambda: figures(stack, dep)["predictions"] == base["predictions"] + sent_ok, 120, every=1)
    heals = len(heal_events(stack, dep))
    pps = next(c for c in stack.containers(dep) if c.healthy)
    subprocess.run(["docker", "kill", pps.name], check=True, capture_output=True)
    # Keep sending through the outage and the heal, until the relaunched PPS answers 30 times.
    outage_failed, after_ok = 0, 0
    for _ in range(1200):  # paced (~20 requests/s at most): a slow heal must not become thousands of requests
        ok, failed, more = stream(stack, dep, 2, codes)
        outage_failed, after_ok, other = outage_failed + failed, after_ok + ok, other + more
        if after_ok >= 30:
            break
        time.sleep(0.1)
    sent_ok, sent_failed = sent_ok + after_ok, sent_failed + outage_failed
    assert other == [], other[:5]
    assert outage_failed > 0, "the kill caused no failed request: nothing to count"
    seen: list[dict[str, Any]] = []

    def counted() -> bool:
        seen.append(figures(stack, dep))
        return (seen[-1]["predictions"] - base["predictions"] == sent_ok
                and seen[-1]["systemErrors"] - base["systemErrors"] == sent_failed)

    try:
        until(f"{sent_ok} predictions and {sent_failed} system errors to be counted", counted, 120, every=1)
    except AssertionError as exc:
        last = {k: seen[-1][k] - base[k] for k in ("predictions", "systemErrors", "userErrors")}
        raise AssertionError(f"{exc}; counted {last}; failed by code {codes}") from None
    stats = figures(stack, dep)
    assert stats["userErrors"] == base["userErrors"]
    requests = stats["predictions"] + stats["systemErrors"] + stats["userErrors"]
    assert stats["systemErrorRate"] == stats["systemErrors"] / requests
    assert len(heal_events(stack, dep)) == heals + 1, "no heal event, or more than one"
    print(f"outage: {sent_ok} answered, {sent_failed} failed by traefik ({dict(codes)}); all counted once")



def heal_events(stack: WholeStack, deployment_id: str) -> list[dict[str, Any]]:
    with stack.client() as client:
        return client.list_events(deployment=deployment_id, types=["deployment_heal_succeeded"], limit=100)
