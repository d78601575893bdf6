"""A real Prometheus of `up --with prometheus` scrapes traefik, the PPS (via traefik), service and agents; PromQL
agrees with the request stream, and the same requests reach `bosun-local stats` through the monitoring pipeline."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.agent.packages import ROW
from tests.observability.conftest import ObservedStack
from tests.support.stack import until as poll_until

pytestmark = pytest.mark.docker
JOBS = {"prometheus", "traefik", "service", "management-agent", "monitoring-agent", "deployments"}
WAIT_SEC = 90
GOOD, BAD = 7, 2


def until(what: str, check: Callable[[], Any]) -> Any:
    """Poll check() every 0.5 s until truthy; fail naming what after WAIT_SEC."""
    return poll_until(what, check, WAIT_SEC, every=0.5)


def query(stack: ObservedStack, promql: str) -> list[dict[str, Any]]:
    """Return an instant query's vector."""
    answer = httpx.get(f"{stack.prometheus}/api/v1/query", params={"query": promql}, timeout=10).json()
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def scalar(stack: ObservedStack, promql: str) -> float | None:
    """Return a one-element query's value, None while it has no result."""
    result = query(stack, promql)
    return float(result[0]["value"][1]) if len(result) == 1 else None


def service_figures(stack: ObservedStack, dep_id: str) -> tuple[int, int] | None:
    """Return (predictions, user errors) the service stored for the deployment, None before any."""
    token = (stack.home / "token").read_text().strip()
    answer = httpx.get(f"{stack.values['serviceUrl']}/api/v1/deployments/{dep_id}/stats",
                       headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    return int(answer.json()["predictions"]), int(answer.json()["userErrors"])


def test_prometheus_scrapes_everything_and_counts_exactly(observed_stack: ObservedStack) -> None:
    stack = observed_stack
    dep_id = str(stack.deployment["id"])
    web = str(stack.values["outfacingPredictionURLPrefix"])
    ok = f'bosun_pps_requests_total{{job="deployments", deployment="{dep_id}", route="/predictions"'
    # Scraped (through the service's discovery and traefik) before any prediction: the PPS exports the series from
    # 0, so rate() sees the burst below.
    until("the deployment's request counter scraped at 0", lambda: scalar(stack, f'{ok}, code="2xx"}}') == 0)
    with httpx.Client(base_url=web, timeout=30) as http:
        for _ in range(GOOD):
            assert http.post(f"/deployments/{dep_id}/predictions", json=[ROW]).status_code == 200
        for _ in range(BAD):
            assert http.post(f"/deployments/{dep_id}/predictions", content=b"nope",
                             headers={"content-type": "application/json"}).status_code == 400
        # The stable path through traefik is what Prometheus scrapes.
        assert http.get(f"/deployments/{dep_id}/metrics").status_code == 200

    # Every job's target seen up, not necessarily in the same poll: at a 1 s scrape interval (and timeout) a loaded
    # 2-core host makes a scrape miss now and then, which is Prometheus reporting truthfully, not a fault.
    seen: dict[str, str] = {}

    def targets() -> bool:
        active = httpx.get(f"{stack.prometheus}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        for target in active:
            if seen.get(target["labels"]["job"]) != "up":
                seen[target["labels"]["job"]] = target["health"] + (f" ({target['lastError']})"
                                                                     if target["lastError"] else "")
        return set(seen) == JOBS and set(seen.values()) == {"up"}

    try:
        until("every job's targets to be up", targets)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; targets seen: {seen}") from None
    until(f"{GOOD} successful predictions in Prometheus", lambda: scalar(stack, f'sum({ok}, code="2xx"}})') == GOOD)
    assert scalar(stack, f'sum({ok}, code="4xx"}})') == BAD
    assert scalar(stack, f'sum(bosun_pps_rows_scored_total{{deployment="{dep_id}"}})') == GOOD
    assert scalar(stack, 'sum(bosun_agent_actions_total{job="management-agent", type="deployment_start", '
                         'outcome="passing"})') == 1
    assert scalar(stack, 'sum(bosun_service_http_requests_total{job="service", route="/metrics"})') >= 1  # type: ignore[operator]
    # traefik's own figures: every request above entered through its web entrypoint (plus Prometheus' scrapes).
    assert scalar(stack, 'sum(traefik_entrypoint_requests_total{job="traefik", entrypoint="web"})') \
        >= GOOD + BAD + 1  # type: ignore[operator]

    # The PPS reported each request as its own broker user through the bosun.pps exchange; the monitoring agent
    # checked the publisher, stored the figures; the service shows them (what `bosun-local stats` prints) and
    # exports them as gauges, which Prometheus scraped.
    until("the service's figures of the requests", lambda: service_figures(stack, dep_id) == (GOOD, BAD))
    printed = json.loads(stack.cli("stats", dep_id, "--json"))
    assert (printed["predictions"], printed["userErrors"], printed["systemErrors"]) == (GOOD, BAD, 0)
    until("the service's gauges in Prometheus", lambda: scalar(
        stack, f'bosun_deployment_predictions{{deployment="{dep_id}"}}') == GOOD and scalar(
        stack, f'bosun_deployment_errors{{deployment="{dep_id}"}}') == BAD)
    assert scalar(stack, "sum(bosun_monitoring_records_stored_total)") >= 1  # type: ignore[operator]
    assert scalar(stack, "sum(bosun_monitoring_records_dead_lettered_total)") == 0  # none taken for forged
    until("the recording rule's request rate", lambda: (scalar(
        stack, f'deployment:bosun_pps_requests:rate5m{{deployment="{dep_id}"}}') or 0) > 0)

    rules = httpx.get(f"{stack.prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = {rule["name"]: rule["health"] for group in rules for rule in group["rules"]}
    assert {"BosunDeploymentErrorRateFailing", "BosunDeploymentLatencyWarning", "BosunComponentDown",
            "deployment:bosun_pps_errors:ratio_rate5m"} <= set(loaded)
    assert set(loaded.values()) == {"ok"}, loaded
    # 2 user errors of 9 requests is 22 %: over userErrorRateWarn (20 %), under its Fail (100 %), as the service
    # grades; the alert keeps the deployment's name for its summary.
    alert = until("the user-error-rate alert to be pending or firing", lambda: next((
        a for a in httpx.get(f"{stack.prometheus}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
        if a["labels"]["alertname"] == "BosunDeploymentUserErrorRateWarning"
        and a["labels"].get("deployment") == dep_id), None))
    assert alert["labels"]["name"] == stack.deployment["name"]
    assert f"deployment {stack.deployment['name']} ({dep_id}): 22.22%" in alert["annotations"]["summary"]
    container = f"{stack.name}-prometheus-1"
    config = stack.home / "stacks" / "environment" / "prometheus" / "prometheus.yml"
    check = subprocess.run(["docker", "exec", container, "promtool", "check", "config", str(config)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
