"""Drain a 1M-record SQS backlog (moto server) with the backlog scaler (1..4 agents); goal <= 30 s.

    .venv/bin/python bench/sqs_backlog_drain.py [--records 1000000] [--per-message 1000] [--per-agent 500]
    .venv/bin/python bench/sqs_backlog_drain.py --workload rows [--rows-total 1000000] [--rows 250]

`--workload stats` (default): DEPLOYMENT_STATS records, one per report as datarobot-mlops writes them.
`--workload rows`: backlog_drain.py's RabbitMQ backlog (1M prediction rows in 250-row PREDICTIONS_DATA
records, each followed by its DEPLOYMENT_STATS record), for the figure next to RabbitMQ's.
Records are packed `--per-message` to an SQS message, as our SQS writer sends them (compressed unless
--plain), on the local SQS server (moto, bosun_local/spool/sqs/local_server.py); the agents are real
`bosun-local monitor run` subprocesses under BacklogScaler with LocalProcessScaler, writing to a real service.
The drain time runs from the first scaler round until the service has counted every record (or row).
"""
from __future__ import annotations

import argparse
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from _common import save
from _monitoring import (
    agent_env,
    drain_with_scaler,
    process_cpu,
    record_bodies,
    service_cpu,
    service_with_deployment,
    stored,
)

from bosun_local.agent.backlog_scaler import ScalerPolicy
from bosun_local.contracts import records
from bosun_local.monitoring.local_replicas import LocalProcessScaler
from bosun_local.spool.sqs.queues import make_client, queue_stats
from bosun_local.spool.sqs.writer import pack
from tests.support.sqs import moto_server

GOAL_SEC = 30.0


def stats_lines(deployment_id: str, count: int, uuid4_ids: bool = False) -> list[str]:
    """Return `count` DEPLOYMENT_STATS records of 1 prediction each, as our reporting library writes them
    (time-ordered UUIDv7 ids), or with random UUID4 ids as datarobot-mlops writes them."""
    data = records.deployment_stats_data("m1", 1, 12.0)
    make_id = (lambda: str(uuid.uuid4())) if uuid4_ids else records.new_record_id
    return [records.encode(make_id(), deployment_id, records.DEPLOYMENT_STATS, data) for _ in range(count)]


def load_backlog(url: str, lines: list[str], per_message: int, compress: bool) -> int:
    """Send the records packed per_message to a message; return the messages."""
    bodies = [body for body, _n in pack(lines, per_message, compress)]

    local = threading.local()

    def send(body: str) -> None:
        # One client per thread: making one loads botocore's endpoint data (~0.1 s of CPU each time).
        if not hasattr(local, "client"):
            local.client = make_client(url)
        # One message per call: ten messages of ~256 KiB would exceed a call's 256 KiB.
        local.client.send_message(QueueUrl=url, MessageBody=body)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, bodies))
    return len(bodies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=("stats", "rows"), default="stats")
    parser.add_argument("--records", type=int, default=1_000_000, help="stats workload: records")
    parser.add_argument("--uuid4-ids", action="store_true",
                        help="stats workload: random UUID4 record ids as datarobot-mlops writes (ours: UUIDv7)")
    parser.add_argument("--rows-total", type=int, default=1_000_000, help="rows workload: prediction rows")
    parser.add_argument("--rows", type=int, default=250, help="rows workload: rows per PREDICTIONS_DATA record")
    parser.add_argument("--per-message", type=int, default=1000)
    parser.add_argument("--plain", action="store_true", help="uncompressed messages (MLOPS_SQS_COMPRESS=false)")
    parser.add_argument("--per-agent", type=int, default=500, help="itemsPerAgent: queued messages per agent")
    parser.add_argument("--max-agents", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    with service_with_deployment("sqs-drain") as bench, moto_server(bench.home / "moto.log") as sqs:
        url = sqs.queue("bench-drain", visibility_timeout_sec=60)
        start = time.perf_counter()
        if args.workload == "rows":
            lines = [body.decode() for body in record_bodies(bench, args.rows_total // args.rows, args.rows)]
            figure, total_wanted = "predictionRows", args.rows_total // args.rows * args.rows
        else:
            lines = stats_lines(bench.deployment_id, args.records, args.uuid4_ids)
            figure, total_wanted = "predictions", args.records
        messages = load_backlog(url, lines, args.per_message, not args.plain)
        load_sec = time.perf_counter() - start
        print(f"loaded {len(lines)} records in {messages} messages in {load_sec:.1f} s", flush=True)
        env = agent_env(bench, MLOPS_SPOOLER_TYPE="SQS", MLOPS_SQS_QUEUE_URL=url,
                        MLOPS_SQS_VISIBILITY_TIMEOUT_SEC="60", **sqs.aws_env())
        replicas = LocalProcessScaler(env=env, log_dir=bench.home / "logs")
        policy = ScalerPolicy(per_agent=args.per_agent, target_concurrency=args.max_agents, min_replicas=1,
                              cooldown_sec=5)
        cpu, moto_cpu, load_before = service_cpu(bench), process_cpu(sqs.process.pid), os.getloadavg()[0]
        drained = drain_with_scaler(replicas, lambda: queue_stats(url).depth, policy,
                                    lambda: stored(bench, figure), total_wanted, args.timeout)
        service_sec = service_cpu(bench) - cpu
        moto_sec = process_cpu(sqs.process.pid) - moto_cpu
        total = stored(bench, figure)
        left = queue_stats(url)
    count = len(lines)
    save("sqs_backlog_drain", {
        "bench": "sqs_backlog_drain", "cpus": os.cpu_count(), "loadAvg1mBefore": load_before,
        "loadAvg1mAfter": os.getloadavg()[0], "workload": args.workload, "uuid4Ids": args.uuid4_ids,
        figure: total_wanted,
        "records": count, "recordsPerMessage": args.per_message, "backlogMessages": messages,
        "compressed": not args.plain,
        "loadSeconds": round(load_sec, 1), "drainSeconds": drained["seconds"], "peakAgents": drained["peakAgents"],
        "agentsStarted": drained["agentsStarted"], "recordsPerSec": round(count / drained["seconds"]),
        "agentsCpuUsPerRecord": round(drained["agentsCpuSec"] * 1e6 / count, 2),
        "serviceCpuUsPerRecord": round(service_sec * 1e6 / count, 2),
        "motoCpuUsPerRecord": round(moto_sec * 1e6 / count, 2),
        "countedExactly": total == total_wanted, "leftInQueue": left.depth + left.in_flight, "goalSec": GOAL_SEC,
        "policy": drained["policy"]})

if __name__ == "__main__":
    main()
