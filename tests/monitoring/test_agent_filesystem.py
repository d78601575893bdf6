"""The agent on a filesystem spool against a real service: exact counts, rejects, rotation, resume, outages."""
from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest

from bosun_local.contracts import records
from bosun_local.monitoring.status_events import RECORDS_REJECTED
from bosun_local.spool.filesystem.config import FsChannelConfig
from bosun_local.spool.filesystem.writer import OFFSET_NAME, FilesystemSpoolWriter, spool_numbers
from tests.support.monitoring import (
    FIXTURE_SPOOL,
    Service,
    agent_env,
    agent_running,
    fast_config,
    predictions,
    spawn_agent,
    start_service,
    stats,
    unique,
    wait_until,
)
from tests.support.service import free_port


def stats_lines(deployment_id: str, count: int, start: int = 0) -> list[str]:
    """Return `count` DEPLOYMENT_STATS records of 2 predictions each (ids numbered from start)."""
    return [records.encode(f"{deployment_id}-{i}", deployment_id, records.DEPLOYMENT_STATS,
                           records.deployment_stats_data("m1", 2, 7.0, user_error=i % 10 == 0))
            for i in range(start, start + count)]


def test_datarobot_fixture_spool_is_ingested_with_exact_counts(service: Service, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    shutil.copy(FIXTURE_SPOOL / "fs_spool.1", spool / "fs_spool.1")
    config = fast_config(service, (FsChannelConfig(spool),))
    with agent_running(config) as agent:
        wait_until(lambda: agent.counters.stored == 5, "the 5 fixture records to be stored")
    regression, binary = stats(service, "dep-regression-1"), stats(service, "dep-binary-1")
    assert (regression["predictions"], regression["userErrors"], regression["predictionRows"]) == (4, 1, 3)
    assert regression["predictionMean"] == (151.2 + 180.3 + 210.9) / 3
    assert (binary["predictions"], binary["userErrors"], binary["predictionRows"]) == (2, 0, 2)
    assert json.loads((spool / OFFSET_NAME).read_text())["offset"] == (spool / "fs_spool.1").stat().st_size
    # A second agent on the same directory starts after the committed offset: nothing is read twice.
    with agent_running(config) as again:
        time.sleep(1.5)
        assert again.counters.snapshot()["stored"] == again.counters.duplicates == 0
    assert stats(service, "dep-regression-1")["predictions"] == 4


def test_malformed_lines_go_to_rejected_with_reasons_and_are_counted(service: Service, tmp_path: Path) -> None:
    dep = unique("dep-bad")
    good = stats_lines(dep, 4)
    bad_stats = records.encode("bad-1", dep, records.DEPLOYMENT_STATS,
                               {**records.deployment_stats_data("m1", 2, 7.0), "numPredictions": -3})
    lines = [good[0], "this is not json", good[1], '{"data": "{}"}', bad_stats, good[2], good[3]]
    spool = tmp_path / "spool"
    FilesystemSpoolWriter(spool, max_file_size=1 << 20, max_num_files=10).write(lines)
    with agent_running(fast_config(service, (FsChannelConfig(spool),))) as agent:
        wait_until(lambda: agent.counters.stored == 4 and agent.counters.rejected == 3, "4 stored and 3 rejected")
    assert stats(service, dep)["predictions"] == 8
    rejected = [json.loads(line) for line in (spool / "rejected" / "fs_spool.1.rejected").read_text().splitlines()]
    assert [r["line"] for r in rejected] == ["this is not json", '{"data": "{}"}', bad_stats]
    assert "not JSON" in rejected[0]["reason"] and "header" in rejected[1]["reason"]
    assert "numPredictions" in rejected[2]["reason"]
    events = service.client.list_events(types=[RECORDS_REJECTED])
    assert sum(e["data"]["count"] for e in events if str(spool) in e["message"]) == 3


@pytest.mark.faults  # issue 17's fault suite (`make faults`)
def test_rotated_spool_is_resumed_after_a_kill_9_with_nothing_lost_or_doubled(service: Service,
                                                                              tmp_path: Path) -> None:
    dep = unique("dep-rot")
    spool = tmp_path / "spool"
    writer = FilesystemSpoolWriter(spool, max_file_size=1 << 20, max_num_files=10_000, max_records_per_file=50)
    for start in range(0, 3000, 500):
        writer.write(stats_lines(dep, 500, start))
    assert len(spool_numbers(spool)) > 50  # many rotated files
    env = agent_env(service, MLOPS_SPOOLER_TYPE="FILESYSTEM", MLOPS_FILESYSTEM_DIRECTORY=str(spool))
    # Small batches so the kill lands mid-stream.
    conf = tmp_path / "agent.yaml"
    conf.write_text("batchMaxRecords: 20\nretryMaxSec: 1\n")
    first = spawn_agent(env, tmp_path / "agent-1.log", "--config", str(conf))
    try:
        wait_until(lambda: predictions(service, dep) > 0, "the first agent to store some records")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    done_by_first = stats(service, dep)["predictions"]
    assert done_by_first < 6000, "the kill came too late to test a resume"
    writer.write(stats_lines(dep, 200, 3000))  # more records while no agent runs
    second = spawn_agent(env, tmp_path / "agent-2.log", "--config", str(conf))
    try:
        wait_until(lambda: predictions(service, dep) >= 6400, "all 3200 records")
        time.sleep(1.0)  # anything read twice would show up now
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    figures = stats(service, dep)
    assert (figures["predictions"], figures["userErrors"]) == (6400, 320)
    assert second.returncode == 0
    assert len(spool_numbers(spool)) <= 2  # consumed files are deleted at commit


@pytest.mark.faults  # issue 17's fault suite (`make faults`)
def test_service_outage_holds_the_batch_until_the_service_is_back(tmp_path: Path) -> None:
    dep = unique("dep-outage")
    spool = tmp_path / "spool"
    FilesystemSpoolWriter(spool, max_file_size=1 << 20, max_num_files=10).write(stats_lines(dep, 50))
    home = tmp_path / "home"
    home.mkdir()
    (home / "token").write_text("outage-token\n")  # the service keeps a token it finds
    port = free_port()
    nowhere = Service(f"http://127.0.0.1:{port}", "outage-token", home, None)  # type: ignore[arg-type]
    with agent_running(fast_config(nowhere, (FsChannelConfig(spool),))) as agent:
        wait_until(lambda: agent.counters.retries >= 3, "the agent to retry while the service is down")
        assert not (spool / OFFSET_NAME).exists(), "nothing may be committed while the service is down"
        assert agent.counters.stored == 0
        with start_service(home, port) as svc:
            wait_until(lambda: agent.counters.stored == 50, "the held batch to be stored")
            assert stats(svc, dep)["predictions"] == 100
    assert (spool / OFFSET_NAME).exists()
