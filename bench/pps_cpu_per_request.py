"""Bench: PPS server CPU per single-row request on one pinned CPU, per route, monitoring on/off, direct scoring on/off.

Run: .venv/bin/python bench/pps_cpu_per_request.py [--duration 8] [--rounds 1]
The server (and its reporting child) is pinned to CPU 0 and wrk to CPU 1, so with monitoring on the server and its
reporter share one core. CPU per request = CPU time of the server's process tree / requests wrk completed. Next to a
bare ASGI hello-world on the same uvicorn settings (bench/hello_asgi.py): the ceiling. Goals (issue 23): JSON
<= 250 us, V2 and CSV <= 300 us; monitoring on/off throughput >= 0.95 on the shared CPU.
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
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FEATURES, FORM, diabetes_package, get, save, server_process, wrk_request  # noqa: E402

ROW = [30, 1, 23, 100, 157, 70, 40, 4, 3, 88]
JSON_TYPE = {"Content-Type": "application/json"}
ROUTES: dict[str, tuple[str, str, bytes, dict[str, str]]] = {
    "json": ("POST", "/predictions", json.dumps([dict(zip(FEATURES, ROW, strict=True))]).encode(), JSON_TYPE),
    "csv": ("POST", "/predictions", (",".join(FEATURES) + "\n" + ",".join(map(str, ROW)) + "\n").encode(),
            {"Content-Type": "text/csv"}),
    "v2": ("POST", "/v2/models/diabetes/infer", json.dumps(
        {"inputs": [{"name": "input", "shape": [1, 10], "datatype": "FP64", "data": ROW}]}).encode(), JSON_TYPE),
    "predict": ("GET", "/predict", FORM.encode(), {"Content-Type": "application/x-www-form-urlencoded"}),
}
SERVER_CPU, CLIENT_CPUS = "0", "1"


def tree_cpu_seconds(proc: psutil.Process) -> float:
    """Return the user+system CPU seconds of a process and its live children."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def settled(url: str, proc: psutil.Process, timeout: float = 120.0) -> None:
    """Wait until the reporting child has started and caught up, and the process tree is idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        monitoring = json.loads(get(url + "/info", form=None)).get("monitoring", {})
        caught_up = not monitoring.get("submitted") or (
            monitoring["reported"] == monitoring["submitted"] and not monitoring["queued"])
        before = tree_cpu_seconds(proc)
        time.sleep(1.0)
        if caught_up and tree_cpu_seconds(proc) - before < 0.05:  # < 5 % of a core: start-up work is done
            return
    raise SystemExit(f"the server at {url} did not settle within {timeout:.0f} s (reporting child busy?)")


def measure(cmd: list[str], env: dict[str, str], method: str, path: str, body: bytes, headers: dict[str, str],
            args: argparse.Namespace, ready: str) -> dict[str, Any]:
    """Run wrk against one pinned server; return req/s and server CPU per request."""
    with server_process(cmd, env, ready_path=ready, cpus=SERVER_CPU) as (url, popen):
        proc = psutil.Process(popen.pid)
        wrk_request(url + path, method, body, headers, args.threads, args.connections, 2, cpus=CLIENT_CPUS)  # warm
        settled(url, proc)
        before = tree_cpu_seconds(proc)
        result = wrk_request(url + path, method, body, headers, args.threads, args.connections, args.duration,
                             cpus=CLIENT_CPUS)
        result["cpu_us_per_request"] = (tree_cpu_seconds(proc) - before) / max(result["requests"], 1) * 1e6
    return result


def main() -> None:
    """Measure every route with monitoring off/on and direct scoring off/on, plus the hello-world ceiling."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--routes", default=",".join(ROUTES))
    args = parser.parse_args()
    package = diabetes_package()
    pps = [sys.executable, "-m", "bosun_local.pps"]
    base = {"PPS_MODEL_DIR": str(package), "PPS_HOST": "127.0.0.1", "MLOPS_DEPLOYMENT_ID": "bench-deployment",
            "MLOPS_MODEL_ID": "bench-model", "MONITORING_ENABLED": "0"}
    modes = {
        "before (full sklearn path)": {"PPS_DIRECT_SCORING": "0"},
        "monitoring off": {},
        "monitoring on": {"MONITORING_ENABLED": "1", "MLOPS_SPOOLER_TYPE": "FILESYSTEM"},
    }
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        hello = measure([sys.executable, str(Path(__file__).parent / "hello_asgi.py")], {}, *ROUTES["json"][:4],
                        args=args, ready="/")
        runs.setdefault("hello-world (ceiling)", []).append(hello)
        for route in args.routes.split(","):
            method, path, body, headers = ROUTES[route]
            for mode, extra in modes.items():
                env = {**base, **extra}
                if "MLOPS_SPOOLER_TYPE" in extra:
                    env["MLOPS_FILESYSTEM_DIRECTORY"] = tempfile.mkdtemp(prefix="bench-spool-")
                runs.setdefault(f"{route} | {mode}", []).append(
                    measure(pps, env, method, path, body, headers, args, ready="/ping"))

    def mean(key: str, field: str) -> float:
        return statistics.mean(r[field] for r in runs[key])

    ceiling = mean("hello-world (ceiling)", "requests_per_sec")
    print(f"load average at start/end: see results; cpus {os.cpu_count()}; server on CPU {SERVER_CPU}, wrk on "
          f"CPU {CLIENT_CPUS} (-t{args.threads} -c{args.connections}, {args.duration} s)")
    print(f"{'run':44} {'req/s':>8} {'CPU us/req':>11} {'of ceiling':>10} {'errors':>7}")
    for key in runs:
        rps = mean(key, "requests_per_sec")
        print(f"{key:44} {rps:>8.0f} {mean(key, 'cpu_us_per_request'):>11.0f} {rps / ceiling:>10.2f} "
              f"{sum(r['errors'] for r in runs[key]):>7.0f}")
    ratios: dict[str, dict[str, float]] = {}
    for route in args.routes.split(","):
        off, on = f"{route} | monitoring off", f"{route} | monitoring on"
        before = f"{route} | before (full sklearn path)"
        # On one busy CPU the throughput is 1 / (CPU per request): the CPU ratios are the throughput ratios a
        # quiet machine shows, and they hold up when other processes share the machine; both are printed.
        ratios[route] = {
            "speedup_vs_before": mean(off, "requests_per_sec") / mean(before, "requests_per_sec"),
            "cpu_speedup_vs_before": mean(before, "cpu_us_per_request") / mean(off, "cpu_us_per_request"),
            "monitoring_on_off": mean(on, "requests_per_sec") / mean(off, "requests_per_sec"),
            "cpu_monitoring_on_off": mean(off, "cpu_us_per_request") / mean(on, "cpu_us_per_request"),
        }
        r = ratios[route]
        print(f"{route}: vs the full sklearn path {r['speedup_vs_before']:.2f}x req/s, "
              f"{r['cpu_speedup_vs_before']:.2f}x by CPU; monitoring on/off {r['monitoring_on_off']:.3f} req/s, "
              f"{r['cpu_monitoring_on_off']:.3f} by CPU (goal >= 0.95)")
    save("pps_cpu_per_request", {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "loadavg": os.getloadavg(),
                                 "args": vars(args), "runs": runs, "ratios": ratios})


if __name__ == "__main__":
    main()
