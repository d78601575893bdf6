"""Poison records (issue 17, findings 1 and 7) on every transport the agent reads, against a real service.

Each poison record is dead-lettered with its reason on its own, the records around it and the next 1,000 are
counted exactly, the rejects are counted and visible (agent heartbeat in /api/v1/agents, events), and a channel
that stops moving turns the agent's health red with an event.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bosun_local.contracts import records
from bosun_local.monitoring.status_events import CHANNEL_RECOVERED, CHANNEL_STUCK, RECORDS_REJECTED
from bosun_local.spool.filesystem.config import FsChannelConfig
from bosun_local.spool.filesystem.writer import OFFSET_NAME, FilesystemSpoolWriter
from bosun_local.spool.rabbitmq.config import RabbitChannelConfig
from bosun_local.spool.rabbitmq.reader import read_dead_letters
from bosun_local.spool.sqs.config import SqsChannelConfig
from bosun_local.spool.sqs.queues import make_client, queue_stats
from bosun_local.spool.transport import ChannelConfig
from tests.monitoring.test_agent_rabbitmq import publish
from tests.support.monitoring import Service, agent_running, fast_config, predictions, unique, wait_until
from tests.support.rabbitmq import RabbitMQBroker
from tests.support.sqs import MotoServer

NEXT = 1000


def stats_record(dep: str, record_id: str, **data: object) -> str:
    """Return a DEPLOYMENT_STATS record of 1 prediction, with data fields overridden."""
    return records.encode(record_id, dep, records.DEPLOYMENT_STATS,
                          {**records.deployment_stats_data("m1", 1, 3.0), **data})


def poison(dep: str) -> dict[str, str]:
    """Return the hostile records of the issue by the reason words each must be dead-lettered with."""
    head = {"id": "deep-1", "deploymentId": dep, "dataType": records.DEPLOYMENT_STATS}
    nested: object = 1
    for _ in range(40):
        nested = [nested]
    return {
        "record nests deeper": json.dumps({"header": head, "data": "[" * 100_000 + "]" * 100_000}),
        "'data' nests deeper than 32": json.dumps({"header": {**head, "id": "deep-2"},
                                                   "data": json.dumps({"x": nested})}),
        "data.numPredictions": stats_record(dep, "huge-1", numPredictions=10**30),  # orjson reads it as 1e+30
        "plausible maximum": stats_record(dep, "huge-2", numPredictions=5 * 10**9),
        "ahead of the": stats_record(dep, "future-1", timestamp="9999-12-31 23:59:59.000+0000"),
        "digits": json.dumps({"header": {**head, "id": "digits-1"}, "data": '{"numPredictions": ' + "9" * 5000 + "}"}),
    }


def good(dep: str, start: int, count: int) -> list[str]:
    return [stats_record(dep, f"{dep}-{i}") for i in range(start, start + count)]


def check_counted(service: Service, agent_id: str, dep: str, reasons: list[str], bad: dict[str, str]) -> None:
    """Every good record counted once; each poison record rejected for its own reason, counted and visible."""
    assert predictions(service, dep) == 10 + NEXT
    for words in bad:
        assert any(words in reason for reason in reasons), (words, reasons)
    assert len(reasons) == len(bad), reasons
    listed = next(a for a in service.client.list_agents() if a["agentId"] == agent_id)
    assert listed["data"]["rejected"] == len(bad) and listed["data"]["healthy"] is True, listed["data"]


def run_agent(service: Service, channel: ChannelConfig, dep: str, bad: dict[str, str]) -> str:
    agent_id = unique("mon-hostile")
    config = fast_config(service, (channel,), agent_id=agent_id)
    with agent_running(config) as agent:
        wait_until(lambda: agent.counters.rejected == len(bad) and predictions(service, dep) == 10 + NEXT,
                   f"{10 + NEXT} stored and {len(bad)} rejected")
        time.sleep(1.5)  # a heartbeat carries the counters to the service
    return agent_id


def test_poison_records_on_rabbitmq(broker: RabbitMQBroker, queue_name: str, service: Service) -> None:
    dep = unique("dep-poison-rmq")
    bad = poison(dep)
    publish(broker, queue_name, [r.encode() for r in good(dep, 0, 10) + list(bad.values()) + good(dep, 10, NEXT)])
    started = time.monotonic()
    agent_id = run_agent(service, RabbitChannelConfig(broker.url, queue_name), dep, bad)
    assert time.monotonic() - started < 60
    reasons = [reason for _, reason in read_dead_letters(broker.url, queue_name)]
    check_counted(service, agent_id, dep, reasons, bad)
    events = [e for e in service.client.list_events(types=[RECORDS_REJECTED]) if queue_name in e["message"]]
    assert sum(e["data"]["count"] for e in events) == len(bad)


def test_poison_records_on_the_filesystem_spool(service: Service, tmp_path: Path) -> None:
    dep = unique("dep-poison-fs")
    bad = poison(dep)
    spool = tmp_path / "spool"
    FilesystemSpoolWriter(spool, max_file_size=64 << 20, max_num_files=10).write(
        good(dep, 0, 10) + list(bad.values()) + good(dep, 10, NEXT))
    agent_id = run_agent(service, FsChannelConfig(spool), dep, bad)
    rejected = [json.loads(line) for line in (spool / "rejected" / "fs_spool.1.rejected").read_text().splitlines()]
    check_counted(service, agent_id, dep, [r["reason"] for r in rejected], bad)


def test_poison_records_on_sqs(sqs: MotoServer, service: Service) -> None:
    dep, url = unique("dep-poison-sqs"), sqs.queue("poison", max_receive=2)
    bad = poison(dep)
    client = make_client(url)
    later = good(dep, 10, NEXT)
    bodies = ["\n".join(good(dep, 0, 10)), *bad.values(), *("\n".join(later[i:i + 100]) for i in range(0, NEXT, 100))]
    for body in bodies:
        client.send_message(QueueUrl=url, MessageBody=body)  # type: ignore[attr-defined]
    agent_id = run_agent(service, SqsChannelConfig(url, "sqs", 120), dep, bad)
    assert queue_stats(url).dead == len(bad)
    events = [e for e in service.client.list_events(types=[RECORDS_REJECTED]) if e["data"]["agentId"] == agent_id]
    check_counted(service, agent_id, dep, [r for e in events for r in e["data"]["reasons"]], bad)


def test_stuck_channel_turns_health_red_with_an_event(service: Service, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A spool whose offset file is broken cannot be read: after stuckAfterSec the agent says so, then recovers."""
    alive = tmp_path / "alive"
    monkeypatch.setenv("BOSUN_ALIVE_FILE", str(alive))
    dep, spool = unique("dep-stuck"), tmp_path / "spool"
    FilesystemSpoolWriter(spool, max_file_size=1 << 20, max_num_files=10).write(good(dep, 0, 10))
    (spool / OFFSET_NAME).write_text("{not an offset")
    agent_id = unique("mon-stuck")
    config = fast_config(service, (FsChannelConfig(spool),), agent_id=agent_id, stuck_after_sec=2.0)

    def events(kind: str) -> list[dict]:
        return [e for e in service.client.list_events(types=[kind]) if e["data"].get("agentId") == agent_id]

    def agent_data() -> dict:
        return next((a["data"] for a in service.client.list_agents() if a["agentId"] == agent_id), {})

    with agent_running(config) as agent:
        wait_until(lambda: bool(events(CHANNEL_STUCK)), "the stuck event")
        wait_until(lambda: agent_data().get("healthy") is False, "a red heartbeat")
        (stuck,) = events(CHANNEL_STUCK)
        assert stuck["status"] == "failing" and str(spool) in stuck["message"] and "offset" in stuck["data"]["reason"]
        touched = alive.stat().st_mtime if alive.exists() else 0.0
        time.sleep(2.5)
        assert (alive.stat().st_mtime if alive.exists() else 0.0) == touched  # the liveness file ages: unhealthy
        (spool / OFFSET_NAME).unlink()  # the fix the error names
        wait_until(lambda: bool(events(CHANNEL_RECOVERED)) and agent_data().get("healthy") is True,
                   "the recovered event and a green heartbeat")
        wait_until(lambda: predictions(service, dep) == 10, "the held records to be counted")
        assert not agent.stuck_channels()
    assert alive.stat().st_mtime > touched
