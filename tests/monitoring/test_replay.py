"""Challenger replay's parts without a stack: rows as the PPS takes them, and rows that lose their replay."""
from __future__ import annotations

import threading

from bosun_local.contracts import records
from bosun_local.contracts.records import Record
from bosun_local.monitoring.replay import REPLAY_FAILED, ChallengerReplay, Job, rows_of
from tests.support.monitoring import Service, unique
from tests.support.net import free_port


def prediction_record(deployment_id: str, model_id: str, features: dict[str, list[object]]) -> Record:
    data = {"modelId": model_id, "timestamp": records.format_timestamp(), "features": features,
            "predictions": [1.0] * len(next(iter(features.values())))}
    return Record("r1", deployment_id, records.PREDICTIONS_DATA, data)


def test_rows_are_the_features_row_by_row_in_column_order() -> None:
    record = prediction_record("d", "m", {"age": [0.1, 0.2], "sex": [None, "F"]})
    assert rows_of(record) == [{"age": 0.1, "sex": None}, {"age": 0.2, "sex": "F"}]
    assert rows_of(Record("r2", "d", records.PREDICTIONS_DATA, {"predictions": [1.0]})) == []


def test_a_challenger_that_does_not_answer_loses_its_rows_counted_and_said_once(service: Service) -> None:
    dep = unique("dep-replay")
    replay = ChallengerReplay(f"http://127.0.0.1:{free_port()}", service.client, "agent-t", threading.Event())
    replay.tries, replay.first_retry_sec = 2, 0.01
    rows = [{"x": 1.0}, {"x": 2.0}, {"x": 3.0}]
    replay._send(Job(dep, "m" * 24, rows))
    replay._send(Job(dep, "m" * 24, rows[:1]))
    assert replay.counters.snapshot() == {"replayed": 0, "failed": 4, "dropped": 0}
    events = service.client.list_events(deployment=dep, types=[REPLAY_FAILED])
    assert len(events) == 1  # at most one a minute per challenger
    (event,) = events
    assert event["status"] == "warning" and event["data"]["rows"] == 3 and event["data"]["how"] == "failed"
    assert f"/deployments/{dep}/challengers/{'m' * 24}/predictions" in event["message"]
    assert "ConnectError" in event["message"]


def test_without_a_traefik_url_rows_of_a_deployment_without_challengers_are_left_alone(service: Service) -> None:
    replay = ChallengerReplay("", service.client, "agent-t", threading.Event())
    replay.offer([prediction_record(unique("dep-none"), "m" * 24, {"x": [1.0]})])  # unknown deployment: no targets
    assert replay.counters.snapshot() == {"replayed": 0, "failed": 0, "dropped": 0}
    assert replay._jobs.empty()
