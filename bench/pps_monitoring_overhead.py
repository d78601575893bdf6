"""Bench: PPS single-row /predict requests/s with monitoring on (FILESYSTEM spool) vs off; goal on/off >= 0.95.

Run: .venv/bin/python bench/pps_monitoring_overhead.py [--duration 10] [--rounds 2]
Rounds alternate off/on so drift of the machine's load hits both; prints the mean ratio and the reporter's
counters (every request must be reported, none dropped) and writes bench/results/pps_monitoring_overhead-<time>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import diabetes_package, get, run_wrk, save, server  # noqa: E402


def spooled_lines(directory: Path) -> int:
    """Return how many records the spool files hold."""
    return sum(p.read_bytes().count(b"\n") for p in directory.glob("fs_spool.*") if p.is_file())


def main() -> None:
    """Alternate monitoring off/on runs against the same package and compare."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="off/on pairs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    package = diabetes_package()
    base = {"PPS_MODEL_DIR": str(package), "PPS_HOST": "127.0.0.1", "MLOPS_DEPLOYMENT_ID": "bench-deployment",
            "MLOPS_MODEL_ID": "bench-model"}
    runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    counters: list[dict[str, int]] = []
    for _ in range(args.rounds):
        for mode in ("off", "on"):
            spool = Path(tempfile.mkdtemp(prefix="bench-spool-"))
            env = dict(base, MONITORING_ENABLED="0")
            if mode == "on":
                env.update(MONITORING_ENABLED="1", MLOPS_SPOOLER_TYPE="FILESYSTEM",
                           MLOPS_FILESYSTEM_DIRECTORY=str(spool))
            with server([sys.executable, "-m", "bosun_local.pps"], env) as url:
                result = run_wrk(url + "/predict", args.threads, args.connections, args.duration)
                if mode == "on":
                    deadline = time.monotonic() + 30
                    info = json.loads(get(url + "/info", form=None))["monitoring"]
                    while info["queued"] and time.monotonic() < deadline:
                        time.sleep(0.2)
                        info = json.loads(get(url + "/info", form=None))["monitoring"]
                    counters.append(info)
            if mode == "on":
                time.sleep(0.5)
                result["spooled_records"] = float(spooled_lines(spool))
            runs[mode].append(result)
    off = statistics.mean(r["requests_per_sec"] for r in runs["off"])
    on = statistics.mean(r["requests_per_sec"] for r in runs["on"])
    print(f"{'monitoring':10} {'req/s (each run)':>28} {'mean':>8}")
    for mode in ("off", "on"):
        each = " ".join(f"{r['requests_per_sec']:.0f}" for r in runs[mode])
        print(f"{mode:10} {each:>28} {statistics.mean(r['requests_per_sec'] for r in runs[mode]):>8.0f}")
    print(f"ratio on/off: {on / off:.3f} (goal >= 0.95)")
    for info in counters:
        print(f"reporter: submitted {info['submitted']} reported {info['reported']} dropped {info['dropped']} "
              f"errors {info['errors']}")
    save("pps_monitoring_overhead", {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(), "wrk": vars(args), "runs": runs,
        "reporter": counters, "ratio": on / off, "goal": 0.95,
    })


if __name__ == "__main__":
    main()
