"""Helpers of the monitoring benches: a service and broker, record bodies, agents draining a backlog, CPU clocks."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pika
from _common import FEATURES, ROOT, diabetes_package

from bosun_local.agent.backlog_scaler import BacklogScaler, ScalerPolicy
from bosun_local.client import ServiceClient, ServiceError
from bosun_local.contracts import records
from bosun_local.monitoring.local_replicas import LocalProcessScaler
from bosun_local.spool.rabbitmq.writer import PERSISTENT, connection_parameters
from tests.support.rabbitmq import RabbitMQBroker, rabbitmq_container
from tests.support.service import running_service


@dataclass
class Bench:
    """A running service (and broker), and the deployment records are reported for."""

    url: str
    token: str
    home: Path
    broker: RabbitMQBroker | None
    client: ServiceClient
    deployment_id: str
    model_id: str


@contextmanager
def service_with_deployment(name: str, broker: RabbitMQBroker | None = None,
                            env: dict[str, str] | None = None) -> Iterator[Bench]:
    """Run a service (env: e.g. PYTHONPATH of another tree) with the diabetes package deployed externally."""
    home = Path(tempfile.mkdtemp(prefix=f"bench-{name.replace('+', '-')}-"))
    with running_service(home, env=env) as (url, token):
        client = ServiceClient(url, token, timeout=180)
        package = client.register_package(diabetes_package(home / "package"))
        dep = client.create_deployment(package["id"], f"bench-{name}", external=True)["deployment"]
        try:
            yield Bench(url, token, home, broker, client, dep["id"], dep["modelId"])
        finally:
            client.close()


@contextmanager
def bench_stack(name: str) -> Iterator[Bench]:
    """Run a service and a broker, register the diabetes package and an external deployment of it."""
    with rabbitmq_container(f"bosun-bench-{name}-{int(time.time())}") as broker, \
            service_with_deployment(name, broker) as bench:
        yield bench


def message(deployment_id: str, kind: str, data: str) -> bytes:
    """Return one record's wire bytes around already encoded data text."""
    header = records.make_header(records.new_record_id(), deployment_id, kind)
    return json.dumps({"header": header, "data": data}, separators=(",", ":")).encode()


def association_ids(n: int, rows: int, kind: str = "seq") -> list[str]:
    """Return the association ids of record n: `a<n>-<i>` (a record's ids sort together), or random-looking UUIDs
    (`uuid`: what applications usually send) made from the same pair, so actuals can name them again."""
    if kind == "seq":
        return [f"a{n}-{i}" for i in range(rows)]
    return [str(uuid.UUID(bytes=hashlib.md5(f"a{n}-{i}".encode()).digest(), version=4)) for i in range(rows)]


def record_bodies(bench: Bench, count: int, rows: int, with_ids: bool = False, seed: int = 0,
                  id_kind: str = "seq") -> list[bytes]:
    """Return `count` PREDICTIONS_DATA records of `rows` diabetes-like rows (association ids of `id_kind` when
    asked), each followed by a DEPLOYMENT_STATS record."""
    rng = np.random.default_rng(seed)
    stamp = records.format_timestamp(datetime.now(UTC))
    data: dict[str, Any] = {"timestamp": stamp, "modelId": bench.model_id,
                            "features": {f: rng.normal(50, 20, rows).round(3).tolist() for f in FEATURES},
                            "predictions": rng.normal(150, 50, rows).round(2).tolist()}
    plain = json.dumps(data, separators=(",", ":"))
    stats_text = json.dumps(records.deployment_stats_data(bench.model_id, rows, 12.0, timestamp=stamp))
    out = []
    for n in range(count):
        text = plain
        if with_ids:
            text = json.dumps({**data, "associationIds": association_ids(n, rows, id_kind)}, separators=(",", ":"))
        out.append(message(bench.deployment_id, records.PREDICTIONS_DATA, text))
        out.append(message(bench.deployment_id, records.DEPLOYMENT_STATS, stats_text))
    return out


def actuals_bodies(bench: Bench, count: int, rows: int, id_kind: str = "seq") -> list[bytes]:
    """Return ACTUALS records with an actual for every id `record_bodies(with_ids=True)` made."""
    stamp = records.format_timestamp(datetime.now(UTC))
    return [message(bench.deployment_id, records.ACTUALS, json.dumps({
        "timestamp": stamp, "modelId": bench.model_id, "associationIds": association_ids(n, rows, id_kind),
        "actualValues": [150.0 + i % 7 for i in range(rows)]}, separators=(",", ":"))) for n in range(count)]


def publish(bench: Bench, queue: str, bodies: list[bytes]) -> None:
    """Publish persistent messages to a durable queue with publisher confirms."""
    assert bench.broker is not None
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


def stored(bench: Bench, figure: str = "predictionRows") -> int:
    """Return a figure of the bench deployment's stats (prediction rows by default; 0 before any)."""
    try:
        return int(bench.client.stats(bench.deployment_id, window=86400)[figure])
    except ServiceError as exc:
        if exc.status_code == 404:
            return 0
        raise


def agent_env(bench: Bench, **variables: str) -> dict[str, str]:
    """Return the environment of an agent subprocess: the bench service plus MLOPS_* channel variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "BOSUN_", "AWS_"))}
    env.update({"MLOPS_SERVICE_URL": bench.url, "MLOPS_API_TOKEN": bench.token,
                "BOSUN_HOME": str(bench.home / "agent-home"), **variables})
    return env


def rabbit_env(bench: Bench, queue: str, **variables: str) -> dict[str, str]:
    """Return the environment of an agent reading a RabbitMQ queue of the bench broker."""
    assert bench.broker is not None
    return agent_env(bench, MLOPS_SPOOLER_TYPE="RABBITMQ", MLOPS_RABBITMQ_QUEUE_URL=bench.broker.url,
                     MLOPS_RABBITMQ_QUEUE_NAME=queue, **variables)


def children_cpu() -> float:
    """Return the CPU seconds (user + system) of this process's waited-for children."""
    times = os.times()
    return times.children_user + times.children_system


def process_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) a running process has used so far (read from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drain_with_agent(bench: Bench, env: dict[str, str], total: int, done: Callable[[], int], timeout: float,
                     poll_sec: float = 0.05, cwd: Path = ROOT) -> dict[str, float]:
    """Run one `monitor run` agent until done() reaches total; return steady/whole rates and the agent's CPU per
    item from its first stored item on (start-up imports left out)."""
    log = open(bench.home / f"agent-{time.time_ns()}.log", "wb")  # noqa: SIM115 - the child writes it
    started = time.perf_counter()
    agent = subprocess.Popen([sys.executable, "-m", "bosun_local", "monitor", "run"], cwd=cwd, env=env,
                             stdout=log, stderr=subprocess.STDOUT)
    first = None
    try:
        while True:
            count = done()
            now = time.perf_counter()
            if count and first is None:
                first = (now, count, process_cpu(agent.pid))
            if count >= total:
                agent_cpu = process_cpu(agent.pid) - first[2]
                break
            if now - started > timeout or agent.poll() is not None:
                raise SystemExit(f"agent did not finish: {count}/{total} (log {log.name})")
            time.sleep(poll_sec)
    finally:
        agent.terminate()
        agent.wait(30)
        log.close()
    end = time.perf_counter()
    assert first is not None
    return {"steady": (total - first[1]) / max(end - first[0], 1e-9), "whole": total / (end - started),
            "agentCpuSec": round(agent_cpu, 2),
            "agentCpuUsPerItem": round(agent_cpu * 1e6 / max(total - first[1], 1), 2)}


def drain_with_scaler(replicas: LocalProcessScaler, depth: Callable[[], int], policy: ScalerPolicy,
                      done: Callable[[], int], total: int, timeout: float) -> dict[str, Any]:
    """Run agents under the backlog scaler until done() reaches total; return seconds and agents used."""
    scaler = BacklogScaler(replicas, depth, policy, replicas=replicas)
    stop, peak = threading.Event(), 0
    cpu_before = children_cpu()
    start = time.perf_counter()
    scaler.apply()
    thread = threading.Thread(target=scaler.run, args=(stop, 0.5), daemon=True)
    thread.start()
    try:
        while done() < total:
            peak = max(peak, replicas.replicas)
            if time.perf_counter() - start > timeout:
                raise SystemExit(f"backlog not drained in {timeout:.0f} s")
            time.sleep(0.1)
        elapsed = time.perf_counter() - start
    finally:
        stop.set()
        thread.join(5)
        replicas.stop_all()
    return {"seconds": round(elapsed, 2), "peakAgents": peak, "agentsStarted": replicas.started,
            "agentsCpuSec": round(children_cpu() - cpu_before, 2), "policy": scaler.state().get("policy")}


def service_cpu(bench: Bench) -> float:
    """Return the CPU seconds the bench's service process has used so far (read from /proc)."""
    port = bench.url.rsplit(":", 1)[-1]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if b"bosun_local.service" in argv and port.encode() in argv:
                return process_cpu(int(proc.name))
        except OSError:
            continue
    raise RuntimeError(f"no service process listening on port {port}")
