"""Drain a 1M-record SQS backlog (moto server) with the backlog scaler (1..4 agents); goal <= 30 s.

    .venv/bin/python bench/sqs_backlog_drain.py [--records 1000000] [--per-message 1000]

The backlog is DEPLOYMENT_STATS records packed `--per-message` to an SQS message, as our SQS writer sends
them, on a real moto server; the agents are real `bosun-local monitor run` subprocesses under BacklogScaler
with LocalProcessScaler, writing to a real service. The drain time runs from the first scaler round until the
service has counted every record. Compare with backlog_drain.py (RabbitMQ, 1M rows).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _monitoring import save

from bosun_local.agent.backlog_scaler import BacklogScaler, ScalerPolicy
from bosun_local.client import ServiceClient, ServiceError
from bosun_local.contracts import records
from bosun_local.monitoring.local_replicas import LocalProcessScaler
from bosun_local.spool.sqs.queues import make_client, queue_stats
from bosun_local.spool.sqs.writer import pack
from tests.support.service import running_service
from tests.support.sqs import moto_server

GOAL_SEC = 30.0


def load_backlog(url: str, deployment_id: str, count: int, per_message: int) -> int:
    """Send `count` stats records (1 prediction each) packed per_message to a message; return the messages."""
    data = json.dumps(records.deployment_stats_data("m1", 1, 12.0), separators=(",", ":"))
    lines = [records.encode(records.new_record_id(), deployment_id, records.DEPLOYMENT_STATS,
                            json.loads(data)) for _ in range(count)]
    bodies = [body for body, _n in pack(lines, per_message)]
    calls = [bodies[i:i + 1] for i in range(len(bodies))]  # one message per call: 10 of ~256 KiB exceed a call

    def send(chunk: list[str]) -> None:
        client = make_client(url)
        client.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, calls))
    return len(bodies)


def counted(client: ServiceClient, deployment_id: str) -> int:
    try:
        return int(client.stats(deployment_id, window=86400)["predictions"])
    except ServiceError as exc:
        if exc.status_code == 404:
            return 0
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--per-message", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-sqs-drain-"))
    with running_service(home) as (service_url, token), moto_server(home / "moto.log") as sqs:
        client = ServiceClient(service_url, token)
        url = sqs.queue("bench-drain", visibility_timeout_sec=60)
        dep = f"bench-sqs-{int(time.time())}"
        start = time.perf_counter()
        messages = load_backlog(url, dep, args.records, args.per_message)
        load_sec = time.perf_counter() - start
        print(f"loaded {args.records} records in {messages} messages in {load_sec:.1f} s", flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "BOSUN_", "AWS_"))}
        env.update({"MLOPS_SERVICE_URL": service_url, "MLOPS_API_TOKEN": token, "MLOPS_SPOOLER_TYPE": "SQS",
                    "MLOPS_SQS_QUEUE_URL": url, "MLOPS_SQS_VISIBILITY_TIMEOUT_SEC": "60",
                    "BOSUN_HOME": str(home / "agent-home"), **sqs.aws_env()})
        replicas = LocalProcessScaler(["--config", str(home / "agent.yaml")], env=env, log_dir=home / "logs")
        (home / "agent.yaml").write_text("batchMaxRecords: 5000\n")
        policy = ScalerPolicy(per_agent=500, target_concurrency=4, min_replicas=1, cooldown_sec=5)
        scaler = BacklogScaler(replicas, lambda: queue_stats(url).depth, policy, replicas=replicas)
        stop, peak = threading.Event(), [0]
        start = time.perf_counter()
        scaler.apply()
        thread = threading.Thread(target=scaler.run, args=(stop, 0.5), daemon=True)
        thread.start()
        try:
            while counted(client, dep) < args.records:
                peak[0] = max(peak[0], replicas.replicas)
                if time.perf_counter() - start > args.timeout:
                    raise SystemExit(f"backlog not drained in {args.timeout:.0f} s")
                time.sleep(0.2)
            elapsed = time.perf_counter() - start
        finally:
            stop.set()
            thread.join(5)
            replicas.stop_all()
        total = counted(client, dep)
        left = queue_stats(url)
        client.close()
    save("sqs_backlog_drain", {
        "bench": "sqs_backlog_drain", "cpus": os.cpu_count(), "loadAvg1m": os.getloadavg()[0],
        "records": args.records, "recordsPerMessage": args.per_message, "backlogMessages": messages,
        "loadSeconds": round(load_sec, 1), "drainSeconds": round(elapsed, 2), "peakAgents": peak[0],
        "agentsStarted": replicas.started, "recordsPerSec": round(args.records / elapsed),
        "countedExactly": total == args.records, "leftInQueue": left.depth + left.in_flight, "goalSec": GOAL_SEC,
        "policy": scaler.state().get("policy")})


if __name__ == "__main__":
    main()
