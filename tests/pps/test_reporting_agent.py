"""Monitoring on, end to end: PPS -> reporter -> reporting child -> spool -> our monitoring agent -> service.

The server reports its requests' stats packed per batch; the service's stats must equal what the per-request
DEPLOYMENT_STATS records of the same requests give (a twin deployment fed those records by the same agent).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from bosun_local.contracts import records
from bosun_local.contracts.packed_stats import unpack
from bosun_local.contracts.records import DEPLOYMENT_STATS, DEPLOYMENT_STATS_PACKED
from bosun_local.spool.filesystem.config import FsChannelConfig
from tests.pps.conftest import PPSServer
from tests.pps.packages import ROW
from tests.pps.spool import predictions, spooled
from tests.support.monitoring import Service, agent_running, fast_config, service, stats, unique, wait_until
from tests.support.monitoring import predictions as stored_predictions

__all__ = ["service"]
# What DEPLOYMENT_STATS decides in `bosun-local stats` (prediction rows and drift come from PREDICTIONS_DATA).
STATS_FIELDS = ("predictions", "userErrors", "systemErrors", "errorRate", "systemErrorRate", "userErrorRate",
                "latencyP50Ms", "latencyP95Ms", "latencyP99Ms", "latencyMinMs", "latencyMaxMs", "latencyMeanMs",
                "latencyCount", "series")


def test_packed_stats_from_a_server_count_as_per_request_records(start_server: object, packages: dict[str, Path],
                                                                 service: Service, tmp_path: Path) -> None:
    dep, twin = unique("dep-pps-packed"), unique("dep-pps-single")
    spool, twin_spool = tmp_path / "spool", tmp_path / "twin-spool"
    spool.mkdir()
    twin_spool.mkdir()
    server: PPSServer = start_server({  # type: ignore[operator]
        "PPS_MODEL_DIR": str(packages["regression"]), "MLOPS_DEPLOYMENT_ID": dep, "MLOPS_MODEL_ID": "model-r",
        "MLOPS_SPOOLER_TYPE": "FILESYSTEM", "MLOPS_FILESYSTEM_DIRECTORY": str(spool)})
    rows = user_errors = 0
    for i in range(60):
        if i % 12 == 5:
            assert server.client.post("/predictions", json=[{"age": 1}]).status_code == 422
            user_errors += 1
            continue
        body = [{**ROW, "bmi": 20 + i % 7}] * (1 + i % 3)
        assert server.client.post("/predictions", json=body).status_code == 200
        rows += len(body)
    assert server.stop() == 0, server.output()

    written = spooled(spool)
    packed = [r for r in written if r.data_type == DEPLOYMENT_STATS_PACKED]
    assert packed and not [r for r in written if r.data_type == DEPLOYMENT_STATS]
    assert sum(len(r.data["numPredictions"]) for r in packed) == 60
    # The twin: the same requests as datarobot-mlops' per-request records, each stamped as its batch was.
    lines = []
    for record in packed:
        requests = unpack(record.data)
        for i, (n, elapsed, user, system) in enumerate(zip(requests.num_predictions, requests.execution_time_ms,
                                                           requests.user_errors, requests.system_errors,
                                                           strict=True)):
            lines.append(records.encode(f"{record.id}-{i}", twin, DEPLOYMENT_STATS, records.deployment_stats_data(
                "model-r", n, elapsed, user, system, timestamp=record.data["timestamp"])))
    (twin_spool / "fs_spool.1").write_text("\n".join(lines) + "\n")

    config = fast_config(service, (FsChannelConfig(spool), FsChannelConfig(twin_spool)))
    with agent_running(config) as agent:
        wait_until(lambda: stored_predictions(service, dep) == rows and stored_predictions(service, twin) == rows
                   and stats(service, dep)["predictionRows"] == rows, "both deployments' figures stored", 60)
        assert agent.counters.snapshot()["rejected"] == 0
    got, expected = stats(service, dep), stats(service, twin)
    assert (got["predictions"], got["userErrors"], got["latencyCount"]) == (rows, user_errors, 60)
    assert {k: got[k] for k in STATS_FIELDS} == {k: expected[k] for k in STATS_FIELDS}
    assert got["predictionRows"] == sum(len(r.data["predictions"]) for r in predictions(written)) == rows


def test_per_request_stats_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """PPS_PACKED_STATS=0: the reporting child writes datarobot-mlops' per-request records (another agent reads)."""
    from bosun_local.pps.reporting import MLOpsSink, Pending

    monkeypatch.setenv("MLOPS_SPOOLER_TYPE", "MEMORY")
    monkeypatch.setenv("PPS_PACKED_STATS", "0")
    pending = Pending("dep", "model")
    for i in range(3):
        pending.add(1, 0.5 * i, i == 1, False, None, None, None)
    sink = MLOpsSink()
    sink.deliver([pending.batch()])
    channel = sink.client("dep", "model").channel
    sink.close(10)
    written = channel.records()
    assert [(r.data_type, r.data["executionTime"], r.data["userError"]) for r in written] == [
        (DEPLOYMENT_STATS, 0.0, False), (DEPLOYMENT_STATS, 0.5, True), (DEPLOYMENT_STATS, 1.0, False)]
