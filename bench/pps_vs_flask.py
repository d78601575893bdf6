"""Bench: single-row GET /predict requests/s of the PPS vs the workshop's plain Flask app, same model, same client.

Run: .venv/bin/python bench/pps_vs_flask.py [--duration 10] [--threads 2] [--connections 16]
Prints both servers' wrk figures and the ratio (goal >= 2.0) and writes bench/results/pps_vs_flask-<time>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    ROOT,
    diabetes_package,
    get,
    run_wrk,
    save,
    server,
)


def main() -> None:
    """Run both servers one after the other on the same package and compare."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="PREDICTION_API_WORKERS of the PPS")
    parser.add_argument("--rounds", type=int, default=2, help="flask/pps pairs, alternated against load drift")
    args = parser.parse_args()

    package = diabetes_package()
    python = sys.executable
    runs: dict[str, list[dict[str, float]]] = {"flask": [], "pps": []}
    answers: dict[str, str] = {}
    flask_cmd = [python, str(ROOT / "bench" / "flask_app.py")]
    pps_cmd = [python, "-m", "bosun_local.pps"]
    servers = (
        ("flask", flask_cmd, {"MODEL_DIR": str(package)}),
        ("pps", pps_cmd, {"PPS_MODEL_DIR": str(package), "PPS_HOST": "127.0.0.1",
                          "PREDICTION_API_WORKERS": str(args.workers), "MONITORING_ENABLED": "0"}),
    )
    for _ in range(args.rounds):
        for name, cmd, env in servers:
            with server(cmd, env) as url:
                answers[name] = get(url + "/predict")
                runs[name].append(run_wrk(url + "/predict", args.threads, args.connections, args.duration))
    results = {name: {key: statistics.mean(r[key] for r in rs) for key in rs[0]} for name, rs in runs.items()}
    ratio = results["pps"]["requests_per_sec"] / results["flask"]["requests_per_sec"]
    same = json.loads(answers["pps"])["prediction"] - json.loads(answers["flask"])["prediction"]
    print(f"{'server':8} {'req/s (each run)':>22} {'mean':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in results.items():
        each = " ".join(f"{x['requests_per_sec']:.0f}" for x in runs[name])
        print(f"{name:8} {each:>22} {r['requests_per_sec']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
              f"{r['errors']:>7.0f}")
    print(f"ratio pps/flask: {ratio:.2f}x (goal >= 2.0)   predictions differ by {abs(same):.2e}")
    save("pps_vs_flask", {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(), "wrk": vars(args),
        "runs": runs, "results": results, "ratio": ratio, "goal": 2.0,
    })


if __name__ == "__main__":
    main()
