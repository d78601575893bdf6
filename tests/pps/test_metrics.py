"""PPS /metrics: parsed with Prometheus' own text parser, values checked against a known request stream."""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx

from bosun_local.pps.server import build_app
from bosun_local.pps.settings import from_env
from tests.pps.conftest import PPSServer
from tests.pps.packages import FORM, ROW
from tests.pps.spool import spooling_server
from tests.pps.test_multi_model import deploy, wait_for
from tests.support.prometheus_text import scrape, value


def test_single_model_counts_match_the_request_stream(start_server: object, packages: dict[str, Path],
                                                      tmp_path: Path) -> None:
    server, spool = spooling_server(start_server, packages["regression"], "dep-m", "model-m", tmp_path)
    client = server.client
    before = scrape(client)
    assert value(before, "bosun_pps_requests_in_flight") == 1  # the scrape itself
    assert value(before, "bosun_pps_model_load_seconds", deployment="dep-m", model="model-m") > 0
    assert value(before, "bosun_pps_model_loaded", deployment="dep-m", model="model-m") == 1
    assert value(before, "bosun_pps_monitoring_enabled") == 1
    # Exported from 0 before the first prediction, so rate() sees the first burst.
    for code in ("2xx", "4xx", "5xx"):
        assert before[("bosun_pps_requests_total",
                       (("code", code), ("deployment", "dep-m"), ("route", "/predictions")))] == 0
    assert before[("bosun_pps_request_duration_seconds_count", (("deployment", "dep-m"), ("route", "/predictions")))] \
        == 0

    for _ in range(5):
        assert client.post("/predictions", json=[ROW, ROW]).status_code == 200
    for _ in range(3):
        assert client.post("/deployments/dep-m/predict", content=FORM,
                           headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 200
    for _ in range(2):
        assert client.post("/predictions", content=b"{not json", headers={"content-type": "application/json"}
                           ).status_code == 400
    assert client.get("/no-such-route").status_code == 404
    for i in range(3):  # unknown deployment ids must not become label values
        assert client.post(f"/deployments/stranger-{i}/predictions", json=[ROW]).status_code == 404
    assert client.get("/ping").status_code == 200

    after = scrape(client)
    ok = {"deployment": "dep-m", "code": "2xx"}
    assert value(after, "bosun_pps_requests_total", route="/predictions", **ok) == 5
    assert value(after, "bosun_pps_requests_total", route="/predictions", deployment="dep-m", code="4xx") == 2
    assert value(after, "bosun_pps_requests_total", route="/predictions", deployment="dep-m", code="5xx") == 0
    assert value(after, "bosun_pps_requests_total", route="/predict", **ok) == 3
    assert value(after, "bosun_pps_requests_total", route="other", deployment="dep-m", code="4xx") == 1
    assert value(after, "bosun_pps_requests_total", route="/predictions", deployment="", code="4xx") == 3
    # wait_ready's probes came before the first scrape: count from there
    assert value(after, "bosun_pps_requests_total", route="/ping", **ok) == \
        value(before, "bosun_pps_requests_total", route="/ping", **ok) + 1
    assert value(after, "bosun_pps_requests_total", route="/metrics", **ok) == 1  # the first scrape
    assert not any(dict(labels).get("deployment", "").startswith("stranger") for _, labels in after)
    assert value(after, "bosun_pps_request_duration_seconds_count", deployment="dep-m", route="/predictions") == 7
    assert value(after, "bosun_pps_request_duration_seconds_bucket", deployment="dep-m", route="/predictions",
                 le="+Inf") == 7
    assert 0 < value(after, "bosun_pps_request_duration_seconds_sum", deployment="dep-m", route="/predictions") < 7 * 5
    assert value(after, "bosun_pps_rows_scored_total", deployment="dep-m", model="model-m") == 5 * 2 + 3
    # Every request that reached a deployment was reported (the 404s of unknown ids never did).
    wait_for(lambda: value(scrape(client), "bosun_pps_monitoring_records_reported_total") == 5 + 3 + 2,
             "the reports to reach the spool")
    final = scrape(client)
    assert value(final, "bosun_pps_monitoring_records_submitted_total") == 10
    assert value(final, "bosun_pps_monitoring_records_dropped_total") == 0
    assert value(final, "bosun_pps_monitoring_records_queued") == 0
    assert value(final, "process_cpu_seconds_total") > 0 and value(final, "process_resident_memory_bytes") > 0


def test_multi_model_serves_each_deployment_its_own_path(start_server: object, packages: dict[str, Path],
                                                         tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    deploy(base, "dep-a", "model-a", packages["regression"])
    deploy(base, "dep-b", "model-b", packages["regression"])
    server: PPSServer = start_server({"PPS_MULTI_BASE_DIR": str(base), "PPS_WATCH_INTERVAL_SEC": "0.2"},  # type: ignore[operator]
                                     ready=False)
    server.wait_ready("/health")
    client = server.client
    wait_for(lambda: client.get("/deployments/dep-b/ping").status_code == 200, "both deployments to load")
    zeros = scrape(client, "/deployments/dep-b/metrics")
    zero_key = (("code", "2xx"), ("deployment", "dep-b"), ("route", "/predictions"))
    assert zeros[("bosun_pps_requests_total", zero_key)] == 0  # exported from 0 before the first prediction
    for deployment_id, count in (("dep-a", 4), ("dep-b", 2)):
        for _ in range(count):
            assert client.post(f"/deployments/{deployment_id}/predictions", json=[ROW]).status_code == 200
    only_a = scrape(client, "/deployments/dep-a/metrics")
    assert value(only_a, "bosun_pps_requests_total", deployment="dep-a", route="/predictions", code="2xx") == 4
    assert {dict(labels).get("deployment") for _, labels in only_a} <= {"dep-a", None}
    assert value(only_a, "bosun_pps_rows_scored_total", deployment="dep-a", model="model-a") == 4
    everything = scrape(client)
    assert value(everything, "bosun_pps_requests_total", deployment="dep-b", route="/predictions", code="2xx") == 2
    assert value(everything, "bosun_pps_requests_total", deployment="dep-a", route="/metrics", code="2xx") == 1
    assert client.get("/deployments/dep-zzz/metrics").status_code == 404
    shutil.rmtree(base / "deployment_dep-b")



def test_metrics_off_serves_no_route(packages: dict[str, Path]) -> None:
    off = build_app(from_env({"PPS_MODEL_DIR": str(packages["regression"]), "PPS_METRICS": "0"}))
    assert off.metrics is None

    async def calls() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=off), base_url="http://pps") as client:
            return [(await client.get("/metrics")).status_code,
                    (await client.post("/predictions", json=[ROW])).status_code]

    assert asyncio.run(calls()) == [404, 200]
