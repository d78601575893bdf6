"""Reporting-library throughput: report_predictions_data records/s and rows/s per channel and frame size.

Measures two rates per case: the app-side rate (how fast report_* calls return) and the delivered rate
(until shutdown() has every record written or broker-confirmed). Run: .venv/bin/python bench/reporting_throughput.py
"""
from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable

import pandas as pd

from bosun_local.mlops import MLOps
from tests.support.rabbitmq import RABBITMQ_IMAGE, image_available, rabbitmq_container


def frame(rows: int) -> pd.DataFrame:
    """Return a diabetes-shaped frame (10 numeric features) of rows rows."""
    cols = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    return pd.DataFrame({c: [float(i % 97) + j for i in range(rows)] for j, c in enumerate(cols)})


def run_case(make: Callable[[], MLOps], rows: int, count: int) -> tuple[float, float, int]:
    """Report count frames of rows rows; return (calls/s, delivered records/s, dropped)."""
    df = frame(rows)
    preds = [float(i) for i in range(rows)]
    client = make()
    start = time.perf_counter()
    for _ in range(count):
        client.report_predictions_data(df, preds)
    returned = time.perf_counter() - start
    ok = client.shutdown(timeout_sec=300)
    delivered = time.perf_counter() - start
    if not ok:
        print(f"  warning: not every record was delivered ({client.dropped_records} dropped)")
    return count / returned, count / delivered, client.dropped_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000, help="frames per 1-row case (100-row: a fifth)")
    args = parser.parse_args()

    def base() -> MLOps:
        return MLOps().set_deployment_id("bench").set_model_id("m").set_channel_config(
            f"MLOPS_REPORT_QUEUE_MAX_SIZE={args.records * 2}")

    channels: dict[str, Callable[[], MLOps]] = {
        "memory": lambda: base().set_memory_spooler().init(),
    }
    spool_dir = tempfile.mkdtemp(prefix="bosun-bench-spool-")
    channels["filesystem"] = lambda: base().set_filesystem_spooler(f"{spool_dir}/{uuid.uuid4().hex}").init()
    results: list[tuple[str, int, float, float, int]] = []

    def measure(name: str, make: Callable[[], MLOps]) -> None:
        for rows, count in ((1, args.records), (100, max(1, args.records // 5))):
            calls, delivered, dropped = run_case(make, rows, count)
            results.append((name, rows, calls, delivered, dropped))
            print(f"  {name:<10} {rows:>3}-row frames: {calls:>9,.0f} calls/s  {delivered:>9,.0f} delivered rec/s"
                  f"  {delivered * rows:>11,.0f} rows/s  dropped {dropped}")

    for name, make in channels.items():
        measure(name, make)
    if image_available(RABBITMQ_IMAGE):
        with rabbitmq_container(f"bosun-bench-rabbitmq-{uuid.uuid4().hex[:6]}") as broker:
            measure("rabbitmq", lambda: base().set_rabbitmq_spooler(broker.url, f"bench-{uuid.uuid4().hex[:6]}").init())
    else:
        print(f"  rabbitmq: skipped, image {RABBITMQ_IMAGE} is missing (bosun-local images build)")

    memory = {rows: delivered for name, rows, _, delivered, _ in results if name == "memory"}
    print("\nchannel     rows  calls/s    delivered/s  rows/s        vs memory")
    for name, rows, calls, delivered, _ in results:
        print(f"{name:<11} {rows:>4}  {calls:>9,.0f}  {delivered:>11,.0f}  {delivered * rows:>12,.0f}"
              f"  {delivered / memory[rows]:>6.2f}x")


if __name__ == "__main__":
    main()
