"""The monitoring agent's /metrics, served by `bosun-local monitor run` on $BOSUN_METRICS_PORT: exact counts."""
from __future__ import annotations

import signal
from pathlib import Path

import httpx

from bosun_local.contracts import records
from bosun_local.spool.filesystem.writer import FilesystemSpoolWriter
from tests.support.monitoring import Service, agent_env, predictions, spawn_agent, unique, wait_until
from tests.support.net import free_port
from tests.support.prometheus_text import parse, value


def test_stored_rejected_and_spool_depth_are_exact(service: Service, tmp_path: Path) -> None:
    dep = unique("dep-metrics")
    good = [records.encode(f"{dep}-{i}", dep, records.DEPLOYMENT_STATS, records.deployment_stats_data("m1", 3, 7.0))
            for i in range(6)]
    spool = tmp_path / "spool"
    FilesystemSpoolWriter(spool, max_file_size=1 << 20, max_num_files=10).write(
        [*good[:3], "this is not json", *good[3:], '{"data": "{}"}'])
    port = free_port()
    env = agent_env(service, MLOPS_SPOOLER_TYPE="FILESYSTEM", MLOPS_FILESYSTEM_DIRECTORY=str(spool),
                    BOSUN_METRICS_PORT=str(port))
    agent = spawn_agent(env, tmp_path / "agent.log")
    try:
        wait_until(lambda: predictions(service, dep) == 18, "the 6 good records to be stored")

        def scrape() -> dict:
            response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            assert response.status_code == 200
            return parse(response.text)

        wait_until(lambda: value(scrape(), "bosun_monitoring_records_dead_lettered_total") == 2, "2 rejects counted")
        samples = scrape()
        assert httpx.get(f"http://127.0.0.1:{port}/other", timeout=10).status_code == 404
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
    assert value(samples, "bosun_monitoring_records_stored_total") == 6
    assert value(samples, "bosun_monitoring_rows_total") == 0  # stats records carry no prediction rows
    assert value(samples, "bosun_monitoring_records_duplicate_total") == 0
    assert ("bosun_monitoring_spool_depth", (("channel", "filesystem"),)) in samples
    assert value(samples, "bosun_monitoring_spool_depth", channel="filesystem") == 0  # all read
    assert value(samples, "bosun_monitoring_deployments_seen") == 1
    assert value(samples, "process_cpu_seconds_total") > 0
