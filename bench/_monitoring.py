"""Helpers of the monitoring benches: a service, a broker, a diabetes deployment and pre-encoded record bodies."""
from __future__ import annotations

import json
import pickle
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pika  # noqa: E402
import yaml  # noqa: E402

from bosun_local.client import ServiceClient, ServiceError  # noqa: E402
from bosun_local.contracts import records  # noqa: E402
from bosun_local.spool.rabbitmq.writer import PERSISTENT, connection_parameters  # noqa: E402
from tests.support.rabbitmq import RabbitMQBroker, rabbitmq_container  # noqa: E402
from tests.support.service import running_service  # noqa: E402

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


@dataclass
class Bench:
    """A running service and broker, and the deployment records are reported for."""

    url: str
    token: str
    home: Path
    broker: RabbitMQBroker
    client: ServiceClient
    deployment_id: str
    model_id: str


def diabetes_package(directory: Path) -> Path:
    """Write the workshop's diabetes regression package with its training data."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression

    data = load_diabetes(as_frame=True, scaled=False)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.pkl").write_bytes(pickle.dumps(LinearRegression().fit(data.data, data.target)))
    (directory / "model.yaml").write_text(yaml.safe_dump({
        "name": "diabetes", "targetName": "y", "targetType": "regression",
        "features": [{"name": n, "type": "numeric"} for n in FEATURES]}))
    frame = data.frame.rename(columns={"target": "y"})
    frame.to_csv(directory / "training.csv", index=False)
    return directory


@contextmanager
def bench_stack(name: str) -> Iterator[Bench]:
    """Run a service and a broker, register the diabetes package and an external deployment of it."""
    home = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    with running_service(home) as (url, token), rabbitmq_container(f"bosun-bench-{name}-{int(time.time())}") as broker:
        client = ServiceClient(url, token)
        package = client.register_package(diabetes_package(home / "package"))
        dep = client.create_deployment(package["id"], f"bench-{name}", external=True)["deployment"]
        try:
            yield Bench(url, token, home, broker, client, dep["id"], dep["modelId"])
        finally:
            client.close()


def record_bodies(bench: Bench, records_count: int, rows: int, seed: int = 0) -> list[bytes]:
    """Return PREDICTIONS_DATA bodies of `rows` diabetes-like rows each, plus one DEPLOYMENT_STATS per record."""
    rng = np.random.default_rng(seed)
    timestamp = records.format_timestamp(datetime.now(UTC))
    data: dict[str, Any] = {"timestamp": timestamp, "modelId": bench.model_id,
                            "features": {f: rng.normal(50, 20, rows).round(3).tolist() for f in FEATURES},
                            "predictions": rng.normal(150, 50, rows).round(2).tolist()}
    data_text = json.dumps(data, separators=(",", ":"))
    stats_text = json.dumps(records.deployment_stats_data(bench.model_id, rows, 12.0, timestamp=timestamp))
    bodies = []
    for _ in range(records_count):
        for kind, text in ((records.PREDICTIONS_DATA, data_text), (records.DEPLOYMENT_STATS, stats_text)):
            header = {"id": records.new_record_id(), "deploymentId": bench.deployment_id, "dataType": kind,
                      "dataFormat": "json", "dataLen": None, "version": 2, "language": "python",
                      "libVersion": records.LIB_VERSION, "reserved": ""}
            bodies.append(json.dumps({"header": header, "data": text}, separators=(",", ":")).encode())
    return bodies


def publish(bench: Bench, queue: str, bodies: list[bytes]) -> None:
    """Publish persistent messages to a durable queue with publisher confirms."""
    conn = pika.BlockingConnection(connection_parameters(bench.broker.url, 30))
    try:
        chan = conn.channel()
        chan.queue_declare(queue, durable=True)
        chan.confirm_delivery()
        props = pika.BasicProperties(delivery_mode=PERSISTENT, content_type="application/json")
        for body in bodies:
            chan.basic_publish("", queue, body, props)
    finally:
        conn.close()


def stored_rows(bench: Bench) -> int:
    """Return the prediction rows the service has stored for the bench deployment."""
    try:
        return int(bench.client.stats(bench.deployment_id, window=86400)["predictionRows"])
    except ServiceError as exc:
        if exc.status_code == 404:
            return 0
        raise


def agent_env(bench: Bench, queue: str) -> dict[str, str]:
    """Return the MLOPS_* environment of an agent subprocess reading the bench queue."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "BOSUN_"))}
    env.update({"MLOPS_SERVICE_URL": bench.url, "MLOPS_API_TOKEN": bench.token, "MLOPS_SPOOLER_TYPE": "RABBITMQ",
                "MLOPS_RABBITMQ_QUEUE_URL": bench.broker.url, "MLOPS_RABBITMQ_QUEUE_NAME": queue,
                "BOSUN_HOME": str(bench.home / "agent-home")})
    return env


def save(name: str, result: dict[str, Any]) -> None:
    """Print a result and keep it in bench/results/<name>-<time>.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    (RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(text + "\n")
    print(text)
