"""Bench: Open Inference Protocol throughput, Triton binary tensor data vs. JSON tensors, in one run.

Server side: wrk POSTs prebuilt infer bodies (one FP64 tensor per feature; binary asks binary outputs, JSON asks
JSON outputs) to one PPS, alternating formats per round. Client side: tritonclient's own infer() loop, binary
(its default) vs. binary_data=False, which adds the client's encode/decode cost.
Run: .venv/bin/python bench/v2_binary_vs_json.py [--duration 8] [--rows 1 100 1000] [--rounds 2]
Prints req/s and rows/s per format and the binary/JSON ratio; writes bench/results/v2_binary_vs_json-<time>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FEATURES, diabetes_package, save, server, wrk_request  # noqa: E402


def bodies(rows: int) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Return the JSON and the binary infer request for `rows` diabetes rows, with their headers."""
    rng = np.random.default_rng(7)
    columns = {name: rng.uniform(1, 200, rows) for name in FEATURES}
    as_json = {"inputs": [{"name": n, "shape": [rows], "datatype": "FP64", "data": v.tolist()}
                          for n, v in columns.items()],
               "outputs": [{"name": "predict", "parameters": {"binary_data": False}}]}
    header = {"inputs": [{"name": n, "shape": [rows], "datatype": "FP64",
                          "parameters": {"binary_data_size": rows * 8}} for n in columns],
              "outputs": [{"name": "predict", "parameters": {"binary_data": True}}]}
    head = json.dumps(header).encode()
    binary = head + b"".join(v.astype("<f8").tobytes() for v in columns.values())
    return {"json": (json.dumps(as_json).encode(), {"Content-Type": "application/json"}),
            "binary": (binary, {"Inference-Header-Content-Length": str(len(head)),
                                "Content-Type": "application/octet-stream"})}


def run_wrk(url: str, body: bytes, headers: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    """POST one body over and over with wrk; return req/s, latency percentiles and errors."""
    return wrk_request(url, "POST", body, headers, args.threads, args.connections, args.duration)


def tritonclient_loop(url: str, rows: int, binary: bool, seconds: float) -> float:
    """Return infer() calls per second of one tritonclient client (binary or JSON tensors)."""
    import tritonclient.http as triton

    client = triton.InferenceServerClient(url.removeprefix("http://"))
    rng = np.random.default_rng(7)
    inputs = []
    for name in FEATURES:
        tensor = triton.InferInput(name, [rows], "FP64")
        tensor.set_data_from_numpy(rng.uniform(1, 200, rows), binary_data=binary)
        inputs.append(tensor)
    outputs = [triton.InferRequestedOutput("predict", binary_data=binary)]
    try:
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            client.infer("diabetes", inputs, outputs=outputs).as_numpy("predict")
            count += 1
        return count / (time.perf_counter() - started)
    finally:
        client.close()


def main() -> None:
    """Measure both formats against one server, alternating, for each batch size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--rounds", type=int, default=2, help="json/binary pairs, alternated against load drift")
    args = parser.parse_args()

    package = diabetes_package()
    env = {"PPS_MODEL_DIR": str(package), "PPS_HOST": "127.0.0.1", "MONITORING_ENABLED": "0",
           "PPS_MAX_BODY_BYTES": str(200 * 1024 * 1024)}
    results: dict[str, Any] = {}
    with server([sys.executable, "-m", "bosun_local.pps"], env) as url:
        infer = url + "/v2/models/diabetes/infer"
        for rows in args.rows:
            made = bodies(rows)
            runs: dict[str, list[dict[str, float]]] = {"json": [], "binary": []}
            for _ in range(args.rounds):
                for name, (body, headers) in made.items():
                    runs[name].append(run_wrk(infer, body, headers, args))
            mean = {name: {k: statistics.mean(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
            client = {name: tritonclient_loop(url, rows, name == "binary", args.duration / 2)
                      for name in ("json", "binary")}
            results[str(rows)] = {"runs": runs, "mean": mean, "tritonclient_per_sec": client,
                                  "body_bytes": {n: len(b) for n, (b, _) in made.items()},
                                  "ratio": mean["binary"]["requests_per_sec"] / mean["json"]["requests_per_sec"],
                                  "client_ratio": client["binary"] / client["json"]}
    print(f"{'rows':>5} {'format':7} {'body B':>8} {'req/s (each run)':>20} {'rows/s':>10} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'err':>4} {'tritonclient/s':>15}")
    for rows, r in results.items():
        for name in ("json", "binary"):
            m, size, calls = r["mean"][name], r["body_bytes"][name], r["tritonclient_per_sec"][name]
            each = " ".join(f"{x['requests_per_sec']:.0f}" for x in r["runs"][name])
            print(f"{rows:>5} {name:7} {size:>8} {each:>20} {m['requests_per_sec'] * int(rows):>10.0f} "
                  f"{m['p50_ms']:>7.2f} {m['p99_ms']:>7.2f} {m['errors']:>4.0f} {calls:>15.1f}")
        print(f"{rows:>5} binary/json: server {r['ratio']:.2f}x, tritonclient end to end {r['client_ratio']:.2f}x")
    save("v2_binary_vs_json", {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(),
                                        "wrk": vars(args), "results": results})


if __name__ == "__main__":
    main()
