"""Drain a 1M-row RabbitMQ backlog: one fixed agent vs. the backlog scaler (1..4 agents); goal <= 15 s.

    .venv/bin/python bench/backlog_drain.py [--rows-total 1000000] [--rows 250]

Both runs use real `bosun-local monitor run` subprocesses, the same service and broker, and a fresh queue
preloaded with the same number of records; the scaler is BacklogScaler with LocalProcessScaler.
"""
from __future__ import annotations

import argparse
import os
import threading
import time

from _monitoring import agent_env, bench_stack, publish, record_bodies, save, stored_rows

from bosun_local.agent.backlog_scaler import BacklogScaler, ScalerPolicy
from bosun_local.monitoring.local_replicas import LocalProcessScaler
from bosun_local.spool.rabbitmq.reader import queue_depth

GOAL_SEC = 15.0


def drain(bench: object, queue: str, target_rows: int, policy: ScalerPolicy, timeout: float) -> dict[str, float]:
    """Start agents under a scaler policy and time until the service holds target_rows; return the figures."""
    replicas = LocalProcessScaler(env=agent_env(bench, queue))  # type: ignore[arg-type]
    depth = lambda: queue_depth(bench.broker.url, queue)  # type: ignore[attr-defined]  # noqa: E731
    scaler = BacklogScaler(replicas, depth, policy)
    stop = threading.Event()
    peak = [0]
    start = time.perf_counter()
    scaler.apply()
    thread = threading.Thread(target=scaler.run, args=(stop, 0.5), daemon=True)
    thread.start()
    try:
        while stored_rows(bench) < target_rows:  # type: ignore[arg-type]
            peak[0] = max(peak[0], replicas.replicas)
            if time.perf_counter() - start > timeout:
                raise SystemExit(f"backlog not drained in {timeout:.0f} s")
            time.sleep(0.1)
        elapsed = time.perf_counter() - start
    finally:
        stop.set()
        thread.join(5)
        replicas.stop_all()
    return {"seconds": round(elapsed, 2), "peakAgents": peak[0], "agentsStarted": replicas.started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-total", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=250, help="rows per PREDICTIONS_DATA record")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    count = args.rows_total // args.rows
    results = {}
    with bench_stack("drain") as bench:
        done = 0
        for name, policy in (("oneAgent", ScalerPolicy(min_replicas=1, target_concurrency=1)),
                             ("autoscaled1to4", ScalerPolicy(per_agent=500, target_concurrency=4, min_replicas=1,
                                                             cooldown_sec=5))):
            queue = f"bench-drain-{name}"
            publish(bench, queue, record_bodies(bench, count, args.rows))
            backlog = queue_depth(bench.broker.url, queue)
            done += count * args.rows
            results[name] = {"backlogMessages": backlog, **drain(bench, queue, done, policy, args.timeout)}
            print(name, results[name], flush=True)
    one, auto = results["oneAgent"]["seconds"], results["autoscaled1to4"]["seconds"]
    save("backlog_drain", {
        "bench": "backlog_drain", "cpus": os.cpu_count(), "loadAvg1m": os.getloadavg()[0],
        "rowsTotal": count * args.rows, "rowsPerRecord": args.rows, **results,
        "speedupAutoscaledVsOne": round(one / auto, 2), "goalSec": GOAL_SEC,
        "autoscaledRowsPerSec": round(count * args.rows / auto)})


if __name__ == "__main__":
    main()
