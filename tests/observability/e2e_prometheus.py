"""A real Prometheus of `up --with prometheus` scrapes the PPS (via traefik), service and agents; PromQL agrees."""
from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.agent.packages import ROW
from tests.observability.conftest import ObservedStack

pytestmark = pytest.mark.docker
JOBS = {"prometheus", "traefik", "service", "management-agent", "monitoring-agent", "deployments"}
WAIT_SEC = 90


def until(what: str, check: Callable[[], Any]) -> Any:
    """Poll check() until truthy; fail naming what after WAIT_SEC."""
    deadline = time.monotonic() + WAIT_SEC
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {WAIT_SEC} s waiting for {what} (last: {last!r})")


def query(stack: ObservedStack, promql: str) -> list[dict[str, Any]]:
    """Return an instant query's vector."""
    answer = httpx.get(f"{stack.prometheus}/api/v1/query", params={"query": promql}, timeout=10).json()
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def scalar(stack: ObservedStack, promql: str) -> float | None:
    """Return a one-element query's value, None while it has no result."""
    result = query(stack, promql)
    return float(result[0]["value"][1]) if len(result) == 1 else None


def test_prometheus_scrapes_everything_and_counts_exactly(observed_stack: ObservedStack) -> None:
    stack = observed_stack
    dep_id = str(stack.deployment["id"])
    web = str(stack.values["outfacingPredictionURLPrefix"])
    with httpx.Client(base_url=web, timeout=30) as http:
        for _ in range(7):
            assert http.post(f"/deployments/{dep_id}/predictions", json=[ROW]).status_code == 200
        for _ in range(2):
            assert http.post(f"/deployments/{dep_id}/predictions", content=b"nope",
                             headers={"content-type": "application/json"}).status_code == 400
        # The stable path through traefik is what Prometheus scrapes.
        assert http.get(f"/deployments/{dep_id}/metrics").status_code == 200

    def targets() -> dict[str, str] | None:
        active = httpx.get(f"{stack.prometheus}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in active}
        return health if set(health) == JOBS and set(health.values()) == {"up"} else None

    health = until("every job's targets to be up", targets)
    assert health == {job: "up" for job in JOBS}
    ok = f'bosun_pps_requests_total{{job="deployments", deployment="{dep_id}", route="/predictions"'
    until("7 successful predictions in Prometheus", lambda: scalar(stack, f'sum({ok}, code="2xx"}})') == 7)
    assert scalar(stack, f'sum({ok}, code="4xx"}})') == 2
    assert scalar(stack, f'sum(bosun_pps_rows_scored_total{{deployment="{dep_id}"}})') == 7
    assert scalar(stack, 'sum(bosun_agent_actions_total{job="management-agent", type="deployment_start", '
                         'outcome="passing"})') == 1
    assert scalar(stack, 'sum(bosun_service_http_requests_total{job="service", route="/metrics"})') >= 1  # type: ignore[operator]
    until("the recording rule's request rate", lambda: scalar(
        stack, f'deployment:bosun_pps_requests:rate5m{{deployment="{dep_id}"}}'))

    rules = httpx.get(f"{stack.prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = {rule["name"]: rule["health"] for group in rules for rule in group["rules"]}
    assert {"BosunDeploymentErrorRateFailing", "BosunDeploymentLatencyWarning", "BosunComponentDown",
            "deployment:bosun_pps_errors:ratio_rate5m"} <= set(loaded)
    container = f"{stack.name}-prometheus-1"
    config = stack.home / "stacks" / "environment" / "prometheus" / "prometheus.yml"
    check = subprocess.run(["docker", "exec", container, "promtool", "check", "config", str(config)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
