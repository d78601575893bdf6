"""Accuracy from delayed actuals through three agents sharing one queue, one of them killed with SIGKILL midway."""
from __future__ import annotations

import random
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from bosun_local.client import ServiceError
from bosun_local.contracts import records
from bosun_local.spool.rabbitmq.reader import queue_depth
from tests.monitoring.test_agent_rabbitmq import publish
from tests.support.monitoring import Service, agent_env, spawn_agent, stats, unique, wait_until
from tests.support.rabbitmq import RabbitMQBroker

ROWS = 3000
PER_RECORD = 5


def bodies(dep: str, predicted: np.ndarray, actual: np.ndarray, seed: int) -> list[bytes]:
    """Return prediction records (5 ids each) and actuals of both record kinds (5 other ids each), shuffled."""
    rng = random.Random(seed)
    ids = [f"{dep}-row-{i}" for i in range(len(predicted))]
    now = records.format_timestamp(datetime.now(UTC))
    out = []
    for start in range(0, len(ids), PER_RECORD):
        part = slice(start, start + PER_RECORD)
        out.append(records.encode(records.new_record_id(), dep, records.PREDICTIONS_DATA, {
            "timestamp": now, "modelId": "m1", "predictions": predicted[part].tolist(),
            "associationIds": ids[part]}).encode())
    order = list(range(len(ids)))
    rng.shuffle(order)  # actuals arrive grouped differently from the predictions they belong to
    for start in range(0, len(order), PER_RECORD):
        chosen = order[start:start + PER_RECORD]
        if start // PER_RECORD % 2:  # datarobot-mlops' report_actuals record
            body = records.encode(records.new_record_id(), dep, records.ACTUALS_DATA, {
                "modelId": "m1", "actualsList": [{"associationId": ids[i], "actualValue": float(actual[i]),
                                                  "wasActedOn": False} for i in chosen]}).encode()
        else:  # our columnar ACTUALS record
            body = records.encode(records.new_record_id(), dep, records.ACTUALS, {
                "timestamp": now, "modelId": "m1", "associationIds": [ids[i] for i in chosen],
                "actualValues": [float(actual[i]) for i in chosen]}).encode()
        out.append(body)
        if start % (50 * PER_RECORD) == 0:
            out.append(body)  # a redelivered message: the service must count it once
    # The same actual sent again under a new record id (a re-upload): a duplicate, never a second match.
    out.append(records.encode(records.new_record_id(), dep, records.ACTUALS, {
        "timestamp": now, "associationIds": [ids[0]], "actualValues": [float(actual[0])]}).encode())
    rng.shuffle(out)
    return out


@pytest.mark.docker
def test_three_agents_one_killed_join_every_actual_once_with_exact_accuracy(
        broker: RabbitMQBroker, queue_name: str, service: Service, tmp_path: Path) -> None:
    dep = unique("dep-acc")
    rng = np.random.default_rng(11)
    predicted = rng.normal(150, 40, ROWS).round(3)
    actual = (predicted + rng.normal(0, 15, ROWS)).round(3)
    stream = bodies(dep, predicted, actual, seed=4)
    env = agent_env(service, MLOPS_SPOOLER_TYPE="RABBITMQ", MLOPS_RABBITMQ_QUEUE_URL=broker.url,
                    MLOPS_RABBITMQ_QUEUE_NAME=queue_name)
    conf = tmp_path / "agent.yaml"
    conf.write_text("batchMaxRecords: 10\nprefetch: 20\nretryMaxSec: 1\n")
    half = len(stream) // 2
    publish(broker, queue_name, stream[:half])
    agents: list[subprocess.Popen[bytes]] = []
    try:
        agents = [spawn_agent({**env, "MLOPS_AGENT_ID": f"acc-{i}"}, tmp_path / f"agent-{i}.log", "--config", str(conf))
                  for i in range(3)]
        wait_until(lambda: stats(service, dep)["accuracy"]["matched"] > 0 if _known(service, dep) else False,
                   "the agents to join some actuals")
        agents[0].send_signal(signal.SIGKILL)
        agents[0].wait(10)
        assert queue_depth(broker.url, queue_name) > 0, "the kill came too late to be mid-stream"
        publish(broker, queue_name, stream[half:])
        wait_until(lambda: queue_depth(broker.url, queue_name) == 0
                   and stats(service, dep)["accuracy"]["matched"] == ROWS, "every actual to be matched", timeout=180)
        time.sleep(1.5)  # a record stored twice would show now
    finally:
        for agent in agents:
            if agent.poll() is None:
                agent.send_signal(signal.SIGTERM)
        for agent in agents:
            agent.wait(20)
    accuracy = stats(service, dep)["accuracy"]
    assert (accuracy["matched"], accuracy["waitingActuals"], accuracy["rowsUsed"]) == (ROWS, 0, ROWS)
    assert accuracy["targetType"] == "regression"
    expected = {"rmse": skm.root_mean_squared_error(actual, predicted),
                "mae": skm.mean_absolute_error(actual, predicted), "r2": skm.r2_score(actual, predicted)}
    assert accuracy["metrics"] == pytest.approx(expected, rel=1e-9)
    assert stats(service, dep)["predictionRows"] == ROWS  # every prediction record stored once


def _known(service: Service, dep: str) -> bool:
    """Return whether the service has anything for the deployment yet (stats answer 404 before)."""
    try:
        stats(service, dep)
        return True
    except ServiceError as exc:
        if exc.status_code == 404:
            return False
        raise
