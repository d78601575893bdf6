"""End-to-end ingest rows/s with one monitoring agent: RabbitMQ backlog -> agent -> service (goal >= 100k rows/s).

    .venv/bin/python bench/ingest_throughput.py [--records 1000] [--rows 1000]

Also times the agent's in-process share (parse + aggregate against the baseline) on the same bodies, so the
end-to-end figure can be read against what the agent alone could do on this machine.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from _monitoring import ROOT, agent_env, bench_stack, publish, record_bodies, save, stored_rows

from bosun_local.contracts import records
from bosun_local.monitoring.aggregation import Aggregator
from bosun_local.monitoring.baselines import BaselineCache

GOAL_ROWS_PER_SEC = 100_000


def in_process_rate(bodies: list[bytes], fetch_baseline: object, rows: int) -> float:
    """Return rows/s of parsing and aggregating the bodies in this process (no broker, no service)."""
    aggregator = Aggregator(BaselineCache(fetch_baseline))  # type: ignore[arg-type]
    start = time.perf_counter()
    aggregator.entries([records.parse(b) for b in bodies])
    return (len(bodies) // 2) * rows / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000, help="PREDICTIONS_DATA records (each with a stats one)")
    parser.add_argument("--rows", type=int, default=1000, help="rows per PREDICTIONS_DATA record")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    total_rows = args.records * args.rows
    with bench_stack("ingest") as bench:
        queue = "bench-ingest"
        bodies = record_bodies(bench, args.records, args.rows)
        t0 = time.perf_counter()
        publish(bench, queue, bodies)
        publish_sec = time.perf_counter() - t0
        local_rate = in_process_rate(bodies, bench.client.baseline, args.rows)
        log = open(bench.home / "agent.log", "wb")  # noqa: SIM115 - the child writes it
        started = time.perf_counter()
        agent = subprocess.Popen([sys.executable, "-m", "bosun_local", "monitor", "run"], cwd=ROOT,
                                 env=agent_env(bench, queue), stdout=log, stderr=subprocess.STDOUT)
        first = None
        try:
            while True:
                done = stored_rows(bench)
                now = time.perf_counter()
                if done and first is None:
                    first = (now, done)
                if done >= total_rows:
                    break
                if now - started > args.timeout or agent.poll() is not None:
                    raise SystemExit(f"agent did not finish: {done}/{total_rows} rows (log {bench.home}/agent.log)")
                time.sleep(0.05)
        finally:
            agent.terminate()
            agent.wait(30)
            log.close()
        end = time.perf_counter()
        stats = bench.client.stats(bench.deployment_id, window=86400)
    assert first is not None
    steady = (total_rows - first[1]) / max(end - first[0], 1e-9)
    whole = total_rows / (end - started)
    result = {
        "bench": "ingest_throughput", "cpus": os.cpu_count(), "loadAvg1m": os.getloadavg()[0],
        "records": args.records * 2, "rowsPerRecord": args.rows, "totalRows": total_rows,
        "publishSec": round(publish_sec, 2), "agentWallSec": round(end - started, 2),
        "rowsPerSecIncludingStartup": round(whole), "rowsPerSecSteady": round(steady),
        "rowsPerSecInProcessParseAggregate": round(local_rate),
        "goalRowsPerSec": GOAL_ROWS_PER_SEC, "steadyVsGoal": round(steady / GOAL_ROWS_PER_SEC, 2),
        "steadyVsInProcess": round(steady / local_rate, 2),
        "serviceSaw": {"predictionRows": stats["predictionRows"], "predictions": stats["predictions"],
                       "drift": stats["drift"]["status"]},
    }
    save("ingest_throughput", result)


if __name__ == "__main__":
    main()
