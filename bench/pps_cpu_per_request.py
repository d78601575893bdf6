"""Bench: PPS server CPU per single-row request on one pinned CPU, per route, monitoring on/off, direct scoring on/off.

Run: .venv/bin/python bench/pps_cpu_per_request.py [--duration 4] [--rounds 6] [--routes json,csv,v2,predict]
     .venv/bin/python bench/pps_cpu_per_request.py --monitoring [--rounds 30 --duration 2 --routes json]
       [--per-request-stats] [--tree before=DIR ...] [--procs 3]
--monitoring: monitoring on vs off only, made to resolve 5 % (bench/_abba.py): off, a second off (the control) and
on up at once; each round loads every variant together with "off" (two wrk, both servers sharing CPU 0 in the
same window; pairs in ABBA order), CPU nanoseconds of each process tree per request, the median and quartiles of
the per-round ratios, and the control's ratio beside them (the noise floor). --per-request-stats adds "on" with
PPS_PACKED_STATS=0; --tree NAME=DIR runs one more "on" server from another checkout (e.g. `git archive` of main).
--procs K runs K processes per variant and pairs each with every "off" process over the rounds (the control then
pairs two different "off" processes): two identical processes differ by ~2 % for a whole run.
"""
from __future__ import annotations

import argparse
import contextlib
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
BEFORE, OFF, ON = "before (full sklearn path)", "monitoring off", "monitoring on"
CEILING = "hello-world (ceiling)"


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


def measure(url: str, proc: psutil.Process, method: str, path: str, body: bytes, headers: dict[str, str],
            args: argparse.Namespace) -> dict[str, Any]:
    """Run wrk once against a pinned server that is up and settled; return req/s and server CPU per request."""
    before = tree_cpu_seconds(proc)
    result = wrk_request(url + path, method, body, headers, args.threads, args.connections, args.duration,
                         cpus=CLIENT_CPUS)
    result["cpu_us_per_request"] = (tree_cpu_seconds(proc) - before) / max(result["requests"], 1) * 1e6
    return result


def measure_route(variants: dict[str, tuple[list[str], dict[str, str], str]], method: str, path: str, body: bytes,
                  headers: dict[str, str], args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Bring every variant up at once (all pinned to the server CPU), then run them in a rotated order per round.

    Side by side: a change in the machine's load hits every variant of a round alike, so per-round ratios hold
    where back-to-back runs minutes apart do not.
    """
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    with contextlib.ExitStack() as stack:
        up: dict[str, tuple[str, psutil.Process]] = {}
        for name, (cmd, env, ready) in variants.items():
            url, popen = stack.enter_context(server_process(cmd, env, ready_path=ready, cpus=SERVER_CPU))
            up[name] = (url, psutil.Process(popen.pid))
        for url, proc in up.values():
            wrk_request(url + path, method, body, headers, args.threads, args.connections, 2, cpus=CLIENT_CPUS)
            settled(url, proc)
        names = list(variants)
        for round_no in range(args.rounds):
            shift = round_no % len(names)
            order = names[shift:] + names[:shift]
            if round_no % 2:
                order.reverse()
            for name in order:
                url, proc = up[name]
                runs[name].append(measure(url, proc, method, path, body, headers, args))
                settled(url, proc)  # the reporter's tail is charged to this run's CPU, not the next variant's
    return runs


def main() -> None:
    """Measure every route with monitoring off/on and direct scoring off/on, plus the hello-world ceiling."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=6, help="rotated rounds per route (all variants each round)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, help="wrk -c: 8 by route, 32 with --monitoring (a saturated "
                        "server: CPU per request then depends less on how promptly wrk answers)")
    parser.add_argument("--routes", default=",".join(ROUTES))
    parser.add_argument("--monitoring", action="store_true", help="monitoring on/off with a control (ABBA rounds)")
    parser.add_argument("--settle", type=float, default=0.8, help="--monitoring: seconds before CPU is read")
    parser.add_argument("--per-request-stats", action="store_true", help="--monitoring: add PPS_PACKED_STATS=0")
    parser.add_argument("--tree", action="append", metavar="NAME=DIR",
                        help="--monitoring: add an 'on' server run from another checkout (e.g. before=<git archive "
                             "of main>); repeatable")
    parser.add_argument("--load", choices=("pairs", "together", "sequential"), default="pairs",
                        help="--monitoring: load each variant together with 'off' (pairs), all at once, or one "
                             "server at a time")
    parser.add_argument("--procs", type=int, default=1,
                        help="--monitoring: server processes per variant (rounds pair each with every 'off' one)")
    parser.add_argument("--nice", type=int, default=-15 if os.geteuid() == 0 else 0,
                        help="--monitoring: niceness of servers and wrk (other work preempts them less)")
    args = parser.parse_args()
    if args.connections is None:
        args.connections = 32 if args.monitoring else 8
    package = diabetes_package()
    if args.monitoring:
        from _monitoring_abba import compare_monitoring

        compare_monitoring(package, args, ROUTES, SERVER_CPU, CLIENT_CPUS)
        return
    pps = [sys.executable, "-m", "bosun_local.pps"]
    hello = [sys.executable, str(Path(__file__).parent / "hello_asgi.py")]
    base = {"PPS_MODEL_DIR": str(package), "PPS_HOST": "127.0.0.1", "MLOPS_DEPLOYMENT_ID": "bench-deployment",
            "MLOPS_MODEL_ID": "bench-model", "MONITORING_ENABLED": "0"}
    spool = {"MONITORING_ENABLED": "1", "MLOPS_SPOOLER_TYPE": "FILESYSTEM",
             "MLOPS_FILESYSTEM_DIRECTORY": tempfile.mkdtemp(prefix="bench-spool-")}
    variants: dict[str, tuple[list[str], dict[str, str], str]] = {
        BEFORE: (pps, {**base, "PPS_DIRECT_SCORING": "0"}, "/ping"),
        OFF: (pps, base, "/ping"),
        ON: (pps, {**base, **spool}, "/ping"),
    }
    loads = [os.getloadavg()[0]]
    runs: dict[str, list[dict[str, Any]]] = {}
    for route in args.routes.split(","):
        method, path, body, headers = ROUTES[route]
        # The ceiling runs in the first route's rounds, so it sees the same machine as the PPS runs.
        todo = {**variants, CEILING: (hello, {}, "/")} if not runs else variants
        for name, results in measure_route(todo, method, path, body, headers, args).items():
            runs[CEILING if name == CEILING else f"{route} | {name}"] = results
        loads.append(os.getloadavg()[0])
    report(runs, args, loads)


def report(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace, loads: list[float]) -> None:
    """Print medians and per-round ratios; save the raw runs."""
    def median(key: str, field: str) -> float:
        return statistics.median(r[field] for r in runs[key])

    def round_ratios(num: str, den: str, field: str) -> list[float]:
        return [a[field] / b[field] for a, b in zip(runs[num], runs[den], strict=True)]

    ceiling = median(CEILING, "requests_per_sec")
    print(f"load average (1 min) by route: {', '.join(f'{x:.1f}' for x in loads)}; server on CPU {SERVER_CPU}, wrk "
          f"on CPU {CLIENT_CPUS} (-t{args.threads} -c{args.connections}, {args.duration} s x {args.rounds} rounds)")
    print(f"{'run (median of rounds)':44} {'req/s':>8} {'CPU us/req':>11} {'of ceiling':>10} {'errors':>7}")
    for key in runs:
        rps = median(key, "requests_per_sec")
        print(f"{key:44} {rps:>8.0f} {median(key, 'cpu_us_per_request'):>11.0f} {rps / ceiling:>10.2f} "
              f"{sum(r['errors'] for r in runs[key]):>7.0f}")
    ratios: dict[str, dict[str, Any]] = {}
    for route in args.routes.split(","):
        off, on, before = (f"{route} | {name}" for name in (OFF, ON, BEFORE))
        # On one busy CPU the throughput is 1 / (CPU per request): the CPU ratios are the throughput ratios a
        # quiet machine shows, and they hold up when other processes share the machine; both are printed.
        cpu_on_off = round_ratios(off, on, "cpu_us_per_request")
        rps_on_off = round_ratios(on, off, "requests_per_sec")
        ratios[route] = {
            "cpu_speedup_vs_before": statistics.median(round_ratios(before, off, "cpu_us_per_request")),
            "speedup_vs_before": statistics.median(round_ratios(off, before, "requests_per_sec")),
            "cpu_monitoring_on_off": statistics.median(cpu_on_off), "cpu_monitoring_on_off_rounds": cpu_on_off,
            "monitoring_on_off": statistics.median(rps_on_off), "monitoring_on_off_rounds": rps_on_off,
        }
        r = ratios[route]
        print(f"{route}: vs the full sklearn path {r['speedup_vs_before']:.2f}x req/s, "
              f"{r['cpu_speedup_vs_before']:.2f}x by CPU; monitoring on/off (median of rounds) "
              f"{r['monitoring_on_off']:.3f} req/s, {r['cpu_monitoring_on_off']:.3f} by CPU (goal >= 0.95); "
              f"rounds by CPU: {' '.join(f'{x:.2f}' for x in cpu_on_off)}")
    save("pps_cpu_per_request", {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "loadavg": loads,
                                 "args": vars(args), "runs": runs, "ratios": ratios})


if __name__ == "__main__":
    main()
