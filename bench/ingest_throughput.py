"""End-to-end ingest rows/s with one monitoring agent: RabbitMQ backlog -> agent -> service (goal >= 100k rows/s).

    .venv/bin/python bench/ingest_throughput.py [--records 1000] [--rows 1000] [--ids]

Also reports the CPU each side spent per row (agent process, service process), which a loaded machine barely
moves, and times the agent's in-process share (parse + aggregate against the baseline) on the same bodies.
"""
from __future__ import annotations

import argparse
import os
import time

from _common import save
from _monitoring import bench_stack, drain_with_agent, publish, rabbit_env, record_bodies, service_cpu, stored

from bosun_local.contracts import records
from bosun_local.monitoring.aggregation import Aggregator
from bosun_local.monitoring.baselines import BaselineCache

GOAL_ROWS_PER_SEC = 100_000


def in_process_rate(bodies: list[bytes], fetch_baseline: object, rows: int) -> float:
    """Return rows/s of parsing and aggregating the bodies in this process (no broker, no service)."""
    aggregator = Aggregator(BaselineCache(fetch_baseline))  # type: ignore[arg-type]
    start = time.process_time()
    aggregator.entries([records.parse(b) for b in bodies])
    return (len(bodies) // 2) * rows / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000, help="PREDICTIONS_DATA records (each with a stats one)")
    parser.add_argument("--rows", type=int, default=1000, help="rows per PREDICTIONS_DATA record")
    parser.add_argument("--ids", action="store_true", help="an association id on every row")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    total_rows = args.records * args.rows
    with bench_stack("ingest") as bench:
        queue = "bench-ingest"
        bodies = record_bodies(bench, args.records, args.rows, with_ids=args.ids)
        t0 = time.perf_counter()
        publish(bench, queue, bodies)
        publish_sec = time.perf_counter() - t0
        local_rate = in_process_rate(bodies, bench.client.baseline, args.rows)
        service_before = service_cpu(bench)
        rates = drain_with_agent(bench, rabbit_env(bench, queue), total_rows, lambda: stored(bench), args.timeout)
        service_sec = service_cpu(bench) - service_before
        stats = bench.client.stats(bench.deployment_id, window=86400)
    result = {
        "bench": "ingest_throughput", "cpus": os.cpu_count(), "loadAvg1m": os.getloadavg()[0],
        "records": args.records * 2, "rowsPerRecord": args.rows, "totalRows": total_rows, "associationIds": args.ids,
        "publishSec": round(publish_sec, 2),
        "rowsPerSecIncludingStartup": round(rates["whole"]), "rowsPerSecSteady": round(rates["steady"]),
        "agentCpuUsPerRow": rates["agentCpuUsPerItem"],
        "serviceCpuUsPerRow": round(service_sec * 1e6 / total_rows, 2),
        "rowsPerCpuSecAgent": round(total_rows / max(rates["agentCpuSec"], 1e-9)),
        "rowsPerCpuSecService": round(total_rows / max(service_sec, 1e-9)),
        "rowsPerSecInProcessParseAggregate": round(local_rate),
        "goalRowsPerSec": GOAL_ROWS_PER_SEC, "steadyVsGoal": round(rates["steady"] / GOAL_ROWS_PER_SEC, 2),
        "serviceSaw": {"predictionRows": stats["predictionRows"], "predictions": stats["predictions"],
                       "drift": stats["drift"]["status"]},
    }
    save("ingest_throughput", result)


if __name__ == "__main__":
    main()
