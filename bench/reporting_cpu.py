"""Reporting-library CPU per report call: process CPU (the writer thread included) per report_predictions_data +
report_deployment_stats pair, memory spooler, 1-row and 100-row frames. Wall-clock rates on the shared machine
vary 2-3x between runs; CPU time is the steadier figure for comparing two versions side by side.
Run: PYTHONPATH=. .venv/bin/python bench/reporting_cpu.py
"""
from __future__ import annotations

import time

import pandas as pd

from bosun_local.mlops import MLOps

COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def cpu_per_pair(rows: int, count: int) -> float:
    """Return process CPU seconds per (predictions, stats) report pair for frames of rows rows."""
    frame = pd.DataFrame({c: [float(i % 97) + j for i in range(rows)] for j, c in enumerate(COLUMNS)})
    preds = [float(i) for i in range(rows)]
    client = (MLOps().set_deployment_id("bench").set_model_id("m").set_memory_spooler()
              .set_channel_config(f"MLOPS_REPORT_QUEUE_MAX_SIZE={4 * count}").init())
    start = time.process_time()
    for _ in range(count):
        client.report_predictions_data(frame, preds)
        client.report_deployment_stats(rows, 1.5)
    spent = time.process_time() - start
    client.shutdown(timeout_sec=60)
    return spent / count


def main() -> None:
    for rows, count in ((1, 5000), (100, 1500)):
        print(f"{rows:>3}-row frames: {cpu_per_pair(rows, count) * 1e6:8.1f} µs CPU per predictions+stats pair")


if __name__ == "__main__":
    main()
