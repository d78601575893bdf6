"""The agent's self-check: red after two failed probes in a row, events told once the service hears (17, 10)."""
from __future__ import annotations

from typing import Any

from bosun_local.agent.self_check import SelfCheck, host_names
from bosun_local.errors import BosunError


class FlakyService:
    """A service client that fails on purpose while `down` is set (a fake: the failure is the point)."""

    url = "http://service:8765"

    def __init__(self) -> None:
        self.down = False
        self.events: list[dict[str, Any]] = []

    def health(self) -> None:
        if self.down:
            raise BosunError("connection refused")

    def post_event(self, type_: str, status: str, message: str, data: dict[str, Any], time_: str) -> None:
        if self.down:
            raise BosunError("connection refused")
        self.events.append({"type": type_, "status": status, "message": message, "time": time_})


class Reporter:
    agent_id = "mgmt-test-0"


def test_red_after_two_failures_and_events_once_the_service_hears() -> None:
    service = FlakyService()
    check = SelfCheck(service, Reporter(), [], job_probe=list)  # type: ignore[arg-type]
    check.tick()
    assert check.problems == [] and service.events == []
    service.down = True
    check.tick()
    assert check.problems == []  # one failed probe: not yet
    check.tick()
    assert check.problems and "cannot reach the MLOps service" in check.problems[0]
    assert service.events == []  # cannot be told while the service is down
    service.down = False
    check.tick()
    assert check.problems == []
    assert [(e["type"], e["status"]) for e in service.events] == [("agent_unhealthy", "failing"),
                                                                  ("agent_healthy", "passing")]
    assert service.events[0]["time"] < service.events[1]["time"]


def test_engine_and_stall_problems_come_from_the_agents_own_loops() -> None:
    service = FlakyService()
    check = SelfCheck(service, Reporter(), [], job_probe=lambda: ["environment docker: engine gone"])  # type: ignore[arg-type]
    check.tick()
    check.tick()
    assert check.problems == ["environment docker: engine gone"]
    assert "engine gone" in service.events[0]["message"]


def test_only_host_names_are_resolved() -> None:
    assert host_names(["http://service:8765", "http://127.0.0.1:80", "amqp://u:p@rabbitmq:5672/%2F", "",
                       "http://service:1"]) == ["service", "rabbitmq"]
