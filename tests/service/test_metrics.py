"""Service /metrics: token-protected, parsed with Prometheus' parser, counts checked against a known request stream."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest

from bosun_local.config import load_config
from bosun_local.service.app import create_app
from tests.support.prometheus_text import scrape, series, value

from .helpers import Service, unique, write_package


def _minute() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def test_counts_and_figures_match_what_happened(service: Service, tmp_path_factory: pytest.TempPathFactory,
                                                diabetes_frame: pd.DataFrame) -> None:
    auth = {"Authorization": f"Bearer {service.token}"}
    with httpx.Client(base_url=service.url, timeout=30) as http:
        assert http.get("/metrics").status_code == 401  # the token is needed unless metricsRequireToken: false
        before = scrape(http, headers=auth)
        for _ in range(3):
            assert http.get("/api/v1/deployments", headers=auth).status_code == 200
        for i in range(2):
            assert http.get(f"/api/v1/deployments/nobody-{i}", headers=auth).status_code == 404
        assert http.get("/api/v1/deployments", headers={"Authorization": "Bearer wrong"}).status_code == 401

        c = service.client
        package = c.register_package(write_package(tmp_path_factory.mktemp("pkg"), diabetes_frame))
        dep = c.create_deployment(package["id"], unique("metrics"))["deployment"]
        pending = scrape(http, headers=auth)
        assert value(pending, "bosun_service_actions_queued", status="pending") == 1
        action = c.claim_action("agent-metrics", 60)
        assert action is not None and action["type"] == "deployment_start"
        c.complete_action(action["id"], "agent-metrics", {"status": "passing", "state": "ready", "msg": "up"})
        for _ in range(2):
            c.post_event("metrics_test", "warning", "counted by /metrics", deployment_id=dep["id"])
        baseline = c.baseline(dep["id"])
        age = baseline["features"]["age"]["proportions"]
        c.ingest([{"recordId": unique("s"), "deploymentId": dep["id"], "modelId": dep["modelId"], "minute": _minute(),
                   "kind": "stats", "predictions": 90, "userErrors": 5, "systemErrors": 5, "executionTimeMs": 100.0},
                  {"recordId": unique("p"), "deploymentId": dep["id"], "modelId": dep["modelId"], "minute": _minute(),
                   "kind": "predictions", "rows": 1000, "featureCounts": {"age": [1] * (len(age) - 1) + [991]}}])
        after = scrape(http, headers=auth)

    def delta(name: str, /, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "bosun_service_http_requests_total"
    assert delta(requests, route="/api/v1/deployments", method="GET", code="2xx") == 3
    assert delta(requests, route="/api/v1/deployments/{ref}", method="GET", code="4xx") == 2
    assert delta(requests, route="other", method="GET", code="4xx") == 1  # refused before routing
    assert value(after, requests, route="/metrics", method="GET", code="2xx") == 2  # before, pending
    assert not any("nobody" in str(labels) for labels in series(after, requests))
    assert delta("bosun_service_http_request_duration_seconds_count", route="/api/v1/deployments", method="GET") == 3
    assert value(after, "bosun_service_actions_finished_total", type="deployment_start", outcome="succeeded") == 1
    assert value(after, "bosun_service_actions_queued", status="pending") == 0
    assert value(after, "bosun_service_events_total", type="metrics_test", status="warning") == 2
    # Every event the API lists was counted once (this service's events all happened in this test module).
    listed: dict[tuple[str, str], int] = {}
    for event in service.client.list_events(limit=1000):
        listed[(event["type"], event["status"])] = listed.get((event["type"], event["status"]), 0) + 1
    counted = {(dict(k)["type"], dict(k)["status"]): v for k, v in series(after, "bosun_service_events_total").items()}
    assert counted == listed

    stats = service.client.stats(dep["id"], window=3600)
    labels = {"deployment": dep["id"], "name": dep["name"]}
    assert value(after, "bosun_deployment_predictions", **labels) == 90
    assert value(after, "bosun_deployment_errors", **labels) == 10
    assert value(after, "bosun_deployment_error_ratio", **labels) == pytest.approx(0.1)
    assert value(after, "bosun_deployment_system_error_ratio", **labels) == pytest.approx(0.05)
    assert value(after, "bosun_deployment_user_error_ratio", **labels) == pytest.approx(0.05)
    assert value(after, "bosun_deployment_service_health", status=stats["serviceHealth"], **labels) == 1
    assert stats["serviceHealth"] == "warning"  # 5 % system errors: at errorRateWarn (5 %), under errorRateFail
    assert sum(value(after, "bosun_deployment_service_health", status=s, **labels)
               for s in ("passing", "warning", "failing", "unknown")) == 1
    assert value(after, "bosun_deployment_threshold", threshold="errorRateFail", **labels) == 0.2
    assert value(after, "bosun_deployment_threshold", threshold="latencyP95FailMs", **labels) == 2.0  # seconds
    assert value(after, "bosun_deployment_feature_drift_psi", feature="age", **labels) == \
        pytest.approx(stats["drift"]["features"]["age"])
    assert value(after, "bosun_deployment_drift_status", status=stats["drift"]["status"], **labels) == 1
    assert value(after, "bosun_deployment_info", state="ready", model=dep["modelId"], **labels) == 1

    with httpx.Client(base_url=service.url, timeout=30, headers=auth) as http:
        targets = http.get("/api/v1/metrics/targets", params={"address": "traefik:80"}).json()
    assert {"targets": ["traefik:80"], "labels": {"__metrics_path__": f"/deployments/{dep['id']}/metrics",
                                                  "deployment": dep["id"], "name": dep["name"]}} in targets


def test_metrics_can_be_opened_by_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOSUN_METRICS_REQUIRE_TOKEN", "false")
    app = create_app(load_config(tmp_path))

    async def statuses() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
            return [(await client.get(path)).status_code for path in
                    ("/metrics", "/api/v1/deployments", "/api/v1/metrics/targets")]

    assert asyncio.run(statuses()) == [200, 401, 401]
