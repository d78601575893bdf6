"""`docker kill`, which Docker counts as a manual stop that no restart policy undoes: the watchdog starts the
management agent again, and the agent starts every other component again, the watchdog included (issue 17, 9)."""
from __future__ import annotations

import subprocess

from tests.support.stack import WholeStack, until

AGENT, WATCHDOG, MONITORING = "management-agent", "watchdog", "monitoring-agent"


def docker_kill(stack: WholeStack, component: str) -> str:
    """`docker kill` a component's container; return when it started before (to tell a new start)."""
    container = stack.component(component).name
    started = stack.inspect(container, "{{.State.StartedAt}}")
    subprocess.run(["docker", "kill", container], check=True, capture_output=True, timeout=60)
    return started


def started_again(stack: WholeStack, component: str, before: str) -> bool:
    container = stack.component(component).name
    return stack.inspect(container, "{{.State.Running}} {{.State.StartedAt}}") not in (f"true {before}",) \
        and stack.inspect(container, "{{.State.Running}}") == "true"


def test_docker_kill_of_the_agent_its_watchdog_and_a_monitoring_agent_is_undone(stack: WholeStack) -> None:
    stack.wait_healthy(AGENT)
    with stack.client() as client:
        starts = len(client.list_events(types=["agent_started"], limit=500))
        before = docker_kill(stack, AGENT)
        until("the watchdog to start the management agent", lambda: started_again(stack, AGENT, before), 60, every=0.5)
        stack.wait_healthy(AGENT, timeout=120)
        assert "was stopped by `docker kill`" in stack.logs(WATCHDOG)
        until("the agent's start to be recorded",
              lambda: len(client.list_events(types=["agent_started"], limit=500)) == starts + 1, 60)

        # The healer's healer: the management agent starts the watchdog (and any other component) again.
        killed = {name: docker_kill(stack, name) for name in (WATCHDOG, MONITORING)}
        for name, when in killed.items():
            until(f"the management agent to start {name}", lambda n=name, w=when: started_again(stack, n, w), 90,
                  every=0.5)
        stack.wait_healthy(MONITORING, timeout=120)
        events = until("an event per component", lambda: len(e := client.list_events(
            types=["component_relaunched"], limit=20)) >= 2 and e, 60)
        assert {e["data"]["component"] for e in events} >= {WATCHDOG, MONITORING}, events
        assert all("docker kill" in e["message"] for e in events)
