"""Drain a 1M-row RabbitMQ backlog: one fixed agent vs. the backlog scaler (1..4 agents); goal <= 15 s.

    .venv/bin/python bench/backlog_drain.py [--rows-total 1000000] [--rows 250]

Both runs use real `bosun-local monitor run` subprocesses, the same service and broker, and a fresh queue
preloaded with the same number of records; the scaler is BacklogScaler with LocalProcessScaler.
"""
from __future__ import annotations

import argparse
import os

from _common import save
from _monitoring import bench_stack, drain_with_scaler, publish, rabbit_env, record_bodies, stored

from bosun_local.agent.backlog_scaler import ScalerPolicy
from bosun_local.monitoring.local_replicas import LocalProcessScaler
from bosun_local.spool.rabbitmq.reader import queue_depth

GOAL_SEC = 15.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-total", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=250, help="rows per PREDICTIONS_DATA record")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    count = args.rows_total // args.rows
    results = {}
    with bench_stack("drain") as bench:
        assert bench.broker is not None
        done = 0
        for name, policy in (("oneAgent", ScalerPolicy(min_replicas=1, target_concurrency=1)),
                             ("autoscaled1to4", ScalerPolicy(per_agent=500, target_concurrency=4, min_replicas=1,
                                                             cooldown_sec=5))):
            queue = f"bench-drain-{name}"
            publish(bench, queue, record_bodies(bench, count, args.rows))
            url = bench.broker.url
            backlog = queue_depth(url, queue)
            done += count * args.rows
            replicas = LocalProcessScaler(env=rabbit_env(bench, queue))
            results[name] = {"backlogMessages": backlog, **drain_with_scaler(
                replicas, lambda q=queue, u=url: queue_depth(u, q), policy, lambda: stored(bench), done, args.timeout)}
            print(name, results[name], flush=True)
    one, auto = results["oneAgent"]["seconds"], results["autoscaled1to4"]["seconds"]
    save("backlog_drain", {
        "bench": "backlog_drain", "cpus": os.cpu_count(), "loadAvg1m": os.getloadavg()[0],
        "rowsTotal": count * args.rows, "rowsPerRecord": args.rows, **results,
        "speedupAutoscaledVsOne": round(one / auto, 2), "goalSec": GOAL_SEC,
        "autoscaledRowsPerSec": round(count * args.rows / auto)})


if __name__ == "__main__":
    main()
