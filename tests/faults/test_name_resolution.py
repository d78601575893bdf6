"""Name resolution lost under the management agent: its health and `status` turn red at once, with events (17, 10)."""
from __future__ import annotations

import json
import subprocess

from tests.support.stack import WholeStack, until

AGENT = "management-agent"
# TEST-NET-1: nothing answers there, so every lookup times out, as when Docker's embedded DNS broke.
DEAD_RESOLVER = "nameserver 192.0.2.1\noptions timeout:1 attempts:1\n"


def as_root(container: str, script: str) -> str:
    return subprocess.run(["docker", "exec", "-u", "root", container, "sh", "-c", script], capture_output=True,
                          text=True, check=True, timeout=60).stdout


def test_name_resolution_loss_turns_the_agent_red_with_events(stack: WholeStack) -> None:
    stack.wait_healthy(AGENT)
    agent = stack.component(AGENT).name
    original = as_root(agent, "cat /etc/resolv.conf")
    try:
        as_root(agent, f"printf '{DEAD_RESOLVER}' > /etc/resolv.conf")
        until("the agent's health to turn red", lambda: stack.health(AGENT) == "unhealthy", 120, every=0.5)
        status = stack.cli("status", "--json", check=False)
        assert status.returncode == 1
        rows = {r["service"]: r for r in json.loads(status.stdout)["services"]}
        assert rows[AGENT]["ok"] is False and rows["service"]["ok"] is True, rows
        why = as_root(agent, "cat /tmp/bosun-alive.why")
        assert "cannot resolve host name 'service'" in why, why
    finally:
        as_root(agent, f"printf '%s' '{original}' > /etc/resolv.conf")
    stack.wait_healthy(AGENT, timeout=120)
    with stack.client() as client:
        # Told once the service could be reached again, stamped with the time the agent turned red.
        events = until("the agent's health events", lambda: len(e := client.list_events(
            types=["agent_unhealthy", "agent_healthy"], limit=10)) >= 2 and e, 60)
    assert [e["type"] for e in events[:2]] == ["agent_healthy", "agent_unhealthy"], events[:2]
    assert "cannot resolve host name 'service'" in events[1]["message"]
    assert events[1]["status"] == "failing" and events[0]["status"] == "passing"
