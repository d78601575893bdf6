"""DEPLOYMENT_STATS_PACKED: pack/unpack, refusals with reasons, and the agent counting a packed record exactly as
the per-request DEPLOYMENT_STATS records of the same requests (against a real service, over a filesystem spool)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bosun_local.contracts import packed_stats, records
from bosun_local.contracts.packed_stats import MAX_PACKED_REQUESTS, pack, request_ids, unpack
from bosun_local.contracts.records import DEPLOYMENT_STATS, DEPLOYMENT_STATS_PACKED, RecordError, parse
from bosun_local.mlops import MLOps
from bosun_local.monitoring.aggregation import RequestsFolder
from bosun_local.spool.filesystem.config import FsChannelConfig
from tests.support.monitoring import Service, agent_running, fast_config, stats, unique, wait_until

STAMP = "2026-12-02 00:40:00.123+0000"
# Per request: (numPredictions, executionTime ms, userError, systemError); times spread over the latency sketch.
REQUESTS = [(1 + i % 3, round(0.05 + (i * 7919 % 1000) * 0.731, 3), i % 11 == 3, i % 17 == 5) for i in range(300)]


def columns(requests: list[tuple[int, float, bool, bool]]) -> tuple[list[Any], ...]:
    """Return the requests as the four columns pack() takes."""
    if not requests:
        return [], [], [], []
    return tuple(list(column) for column in zip(*requests, strict=True))


def wire(record_id: str, deployment_id: str, data: dict[str, Any]) -> str:
    """Return a packed record's wire text."""
    return records.encode(record_id, deployment_id, DEPLOYMENT_STATS_PACKED, data)


def test_pack_and_unpack_round_trip_through_the_wire() -> None:
    assert pack("m", STAMP, [], [], [], []) == []  # an empty batch writes no record
    (one,) = pack("m", STAMP, [3], [0.25], [False], [True])
    assert one == {"timestamp": STAMP, "modelId": "m", "numPredictions": [3], "executionTime": [0.25],
                   "userErrorAt": [], "systemErrorAt": [0]}
    parsed = parse(wire("r1", "dep", one))
    assert parsed.data_type == DEPLOYMENT_STATS_PACKED and parsed.rows == 3
    assert unpack(parsed.data) == packed_stats.PackedRequests([3], [0.25], [False], [True])
    many = REQUESTS * (MAX_PACKED_REQUESTS // len(REQUESTS) + 1)  # more than one record holds
    parts = pack("m", STAMP, *columns(many))
    assert [len(p["numPredictions"]) for p in parts] == [MAX_PACKED_REQUESTS, len(many) - MAX_PACKED_REQUESTS]
    back = [unpack(parse(wire(f"r{i}", "dep", p)).data) for i, p in enumerate(parts)]
    assert [r for b in back for r in zip(b.num_predictions, b.execution_time_ms, b.user_errors, b.system_errors,
                                         strict=True)] == many
    assert request_ids("abc", 3) == ["abc:0", "abc:1", "abc:2"]
    # An empty packed record from another writer is valid and counts nothing.
    empty = parse(wire("r-empty", "dep", {"timestamp": STAMP, "modelId": "m", "numPredictions": [],
                                          "executionTime": []}))
    folder = RequestsFolder()
    folder.add(empty)
    assert empty.rows == 0 and folder.entries() == []
    with pytest.raises(ValueError, match="one value per request"):
        pack("m", STAMP, [1, 2], [0.5], [False, False], [False, False])


@pytest.mark.parametrize(("change", "reason"), [
    ({"numPredictions": 3}, "data.numPredictions must be a list with one count per request"),
    ({"executionTime": [0.5]}, "data.executionTime must be a list with one time (ms) per request: 2 requests, got 1"),
    ({"numPredictions": [1, -1]}, "data.numPredictions[1] must be an integer from 0"),
    ({"numPredictions": [1, True]}, "data.numPredictions[1] must be an integer"),
    ({"numPredictions": [1, 2.0]}, "data.numPredictions[1] must be an integer"),
    ({"executionTime": [0.5, "1"]}, "data.executionTime[1] must be a number of ms >= 0, got '1'"),
    ({"executionTime": [-0.5, 1]}, "data.executionTime[0] must be a number of ms >= 0"),
    ({"executionTime": [0.5, None]}, "data.executionTime[1] must be a number of ms"),
    ({"userErrorAt": [2]}, "data.userErrorAt must list request positions from 0 to 1 in increasing order"),
    ({"systemErrorAt": [1, 0]}, "data.systemErrorAt must list request positions"),
    ({"systemErrorAt": [0, 0]}, "data.systemErrorAt must list request positions"),
    ({"userErrorAt": "0"}, "data.userErrorAt must be a list of request positions"),
    ({"timestamp": "yesterday"}, "timestamp 'yesterday' is not like"),
    ({"modelId": 7}, "data.modelId must be a string"),
])
def test_malformed_packed_records_are_refused_naming_the_field(change: dict[str, Any], reason: str) -> None:
    data = {"timestamp": STAMP, "modelId": "m", "numPredictions": [1, 2], "executionTime": [0.5, 1.5],
            "userErrorAt": [], "systemErrorAt": [1], **change}
    with pytest.raises(RecordError) as caught:
        parse(wire("r-bad", "dep", data))
    assert reason in caught.value.reason


def test_a_packed_record_holds_at_most_the_limit() -> None:
    n = MAX_PACKED_REQUESTS + 1
    with pytest.raises(RecordError, match="at most 10000 requests, got 10001: split the batch"):
        parse(wire("r-big", "dep", {"timestamp": STAMP, "modelId": "m", "numPredictions": [1] * n,
                                    "executionTime": [1.0] * n}))
    # Finite times whose sum overflows a float are fine (the per-column check falls back to per value).
    assert parse(wire("r-huge", "dep", {"timestamp": STAMP, "modelId": "m", "numPredictions": [1, 1],
                                        "executionTime": [1e308, 1e308]})).rows == 2


def test_library_writes_one_packed_record_where_bulk_writes_one_per_request() -> None:
    mlops = MLOps().set_deployment_id("dep").set_model_id("m").set_memory_spooler().init()
    mlops.report_deployment_stats_bulk(*columns(REQUESTS), packed=True)
    mlops.report_deployment_stats_bulk([], [], packed=True)  # nothing to write
    mlops.report_deployment_stats_bulk(*columns(REQUESTS))
    channel = mlops.channel
    mlops.shutdown()
    written = channel.records()  # type: ignore[union-attr]
    assert [r.data_type for r in written] == [DEPLOYMENT_STATS_PACKED] + [DEPLOYMENT_STATS] * len(REQUESTS)
    requests = unpack(written[0].data)
    assert list(zip(requests.num_predictions, requests.execution_time_ms, requests.user_errors,
                    requests.system_errors, strict=True)) == REQUESTS
    assert [(r.data["numPredictions"], r.data["executionTime"], r.data["userError"], r.data["systemError"])
            for r in written[1:]] == REQUESTS


def test_agent_counts_packed_records_exactly_as_per_request_records(service: Service, tmp_path: Path) -> None:
    """Same requests, two deployments: per-request records for one, packed for the other (one packed record sent
    twice, one malformed between good ones): the service's stats agree field by field."""
    single, packed = unique("dep-single"), unique("dep-packed")
    lines = [records.encode(f"{single}-{i}", single, DEPLOYMENT_STATS, records.deployment_stats_data(
        "m", n, t, user_error=u, system_error=s, timestamp=STAMP)) for i, (n, t, u, s) in enumerate(REQUESTS)]
    parts = [REQUESTS[:1], REQUESTS[1:120], REQUESTS[120:]]
    packed_lines = [wire(f"{packed}-{i}", packed, pack("m", STAMP, *columns(part))[0])
                    for i, part in enumerate(parts)]
    bad = wire(f"{packed}-bad", packed, {"timestamp": STAMP, "modelId": "m", "numPredictions": [1, 1],
                                          "executionTime": [0.5]})
    lines += [packed_lines[0], bad, packed_lines[1], packed_lines[1], packed_lines[2]]
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "fs_spool.1").write_text("\n".join(lines) + "\n")
    with agent_running(fast_config(service, (FsChannelConfig(spool),))) as agent:
        wait_until(lambda: agent.counters.stored + agent.counters.duplicates >= 2 * len(REQUESTS) + 119
                   and agent.counters.rejected == 1, "every request stored once and the bad record set aside", 30)
        counters = agent.counters.snapshot()
    assert (counters["stored"], counters["duplicates"], counters["rejected"]) == (2 * len(REQUESTS), 119, 1)
    (rejected,) = (spool / "rejected").glob("*")
    assert "data.executionTime must be a list with one time (ms) per request: 2 requests, got 1" in \
        rejected.read_text()
    a, b = stats(service, single), stats(service, packed)
    assert a["predictions"] == sum(r[0] for r in REQUESTS) and a["userErrors"] == sum(r[2] for r in REQUESTS)
    assert a["systemErrors"] == sum(r[3] for r in REQUESTS) > 0
    assert json.dumps({**a, "deploymentId": None}, sort_keys=True) == json.dumps({**b, "deploymentId": None},
                                                                                 sort_keys=True)
