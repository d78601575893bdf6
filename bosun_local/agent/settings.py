"""Tunables of the management agent (CLI options of `bosun-local agent run`)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AgentSettings:
    """How often the agent polls, how long it holds actions, how much it runs at once."""

    # Empty: a stable id taken at start (agent/identity.py), so a restarted agent resumes its own actions at once.
    agent_id: str = ""
    # Seconds between claim attempts when the queue was empty (or the service refused); each attempt is a long
    # poll that the service answers as soon as an action is claimable, or after claim_wait_sec.
    poll_sec: float = 0.5
    claim_wait_sec: float = 15.0
    # Lease of a claimed action; renewed every lease_sec / 3 while the action runs.
    lease_sec: float = 30.0
    # Seconds between pe_status checks (and heals) of every environment.
    status_interval_sec: float = 2.0
    # Seconds between those checks while no deployment should run and no action is open; an action's claim ends
    # the wait at once.
    idle_status_interval_sec: float = 10.0
    # Environments whose plugin is an external command start a process per check: check them less often.
    command_status_interval_sec: float = 15.0
    # Deployments whose actions run at the same time.
    concurrency: int = 4
    # Longest a plugin action may run.
    action_timeout_sec: float = 900.0
    # Seconds between heartbeats to the service.
    heartbeat_sec: float = 10.0
    # First wait before healing a deployment again after a failed heal (doubles up to heal_backoff_max_sec).
    heal_backoff_sec: float = 5.0
    heal_backoff_max_sec: float = 300.0
    # Seconds between the agent's own checks (service, engine, name resolution) that colour its health.
    self_check_sec: float = 5.0
    # Relaunch deployments whose containers exited or turned unhealthy.
    heal: bool = True
    # Load newly registered packages in sandbox containers (this agent reaches the engine; the service must not).
    package_checks: bool = False
