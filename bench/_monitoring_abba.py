"""pps_cpu_per_request.py --monitoring: PPS monitoring on vs off on one pinned CPU, with an off-vs-off control."""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _abba import Variant, caught_up, orders, run_once, summary, uptime
from _common import save, server_process, wrk_request

OFF, CONTROL, ON = "off", "off (control)", "on"
PER_REQUEST, BEFORE = "on, per-request stats", "on, before tree"


def variants(package: Path, args: argparse.Namespace) -> dict[str, tuple[dict[str, str], bool]]:
    """Return each server's environment and whether it reports."""
    base = {"PPS_MODEL_DIR": str(package), "PPS_HOST": "127.0.0.1", "MLOPS_DEPLOYMENT_ID": "bench-deployment",
            "MLOPS_MODEL_ID": "bench-model", "MONITORING_ENABLED": "0"}

    def spool() -> dict[str, str]:
        return {"MONITORING_ENABLED": "1", "MLOPS_SPOOLER_TYPE": "FILESYSTEM",
                "MLOPS_FILESYSTEM_DIRECTORY": tempfile.mkdtemp(prefix="bench-spool-")}

    out = {OFF: (base, False), CONTROL: (base, False), ON: ({**base, **spool()}, True)}
    if args.per_request_stats:
        out[PER_REQUEST] = ({**base, **spool(), "PPS_PACKED_STATS": "0"}, True)
    if args.before_tree:
        out[BEFORE] = ({**base, **spool(), "PYTHONPATH": str(args.before_tree.resolve())}, True)
    return out


def compare_monitoring(package: Path, args: argparse.Namespace, routes: dict[str, Any], server_cpu: str,
                       client_cpus: str) -> None:
    """Run the rounds per route and print/save the ratios, their spread and the control's."""
    pps = [sys.executable, "-m", "bosun_local.pps"]
    if args.nice:
        pps = ["nice", "-n", str(args.nice), *pps]
        os.nice(args.nice)  # this process, and so the wrk runs it starts
    started = {"uptime": uptime(), "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    results: dict[str, Any] = {}
    for route in args.routes.split(","):
        method, path, body, headers = routes[route]
        runs: dict[str, list[dict[str, Any]]] = {}
        with contextlib.ExitStack() as stack:
            up: dict[str, Variant] = {}
            for name, (env, reports) in variants(package, args).items():
                url, popen = stack.enter_context(server_process(pps, env, ready_path="/ping", cpus=server_cpu))
                up[name] = Variant(name, url, popen.pid, reports)
            for variant in up.values():  # warm-up: imports, first-call paths, the reporting child started
                wrk_request(variant.url + path, method, body, headers, args.threads, args.connections, 2,
                            cpus=client_cpus)
                caught_up(variant, 60)
            runs = {name: [] for name in up}
            for order in orders(list(up), args.rounds):
                for name in order:
                    runs[name].append(run_once(up[name], method, path, body, headers, args.duration, args.settle,
                                               client_cpus, args.threads, args.connections))
        results[route] = analyse(runs)
        results[route]["loadavg_after"] = os.getloadavg()
    finished = uptime()
    save("pps_monitoring_abba", {"started": started, "finished": finished, "args": {
        k: str(v) for k, v in vars(args).items()}, "results": results})
    report(results, started, finished, args, server_cpu, client_cpus)  # after the raw dump, so it ends the output


def analyse(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Return per-round ratios (throughput on one CPU = the inverse CPU ratio) and their summaries."""
    def cpu_ratio(num: str, den: str) -> list[float]:
        # Throughput of `num` relative to `den` on one busy CPU: den's CPU per request over num's.
        return [b["cpu_us_per_request"] / a["cpu_us_per_request"] for a, b in zip(runs[num], runs[den], strict=True)]

    def rps_ratio(num: str, den: str) -> list[float]:
        return [a["requests_per_sec"] / b["requests_per_sec"] for a, b in zip(runs[num], runs[den], strict=True)]

    out: dict[str, Any] = {"runs": runs, "median_us": {
        name: {key: statistics.median(r[key] for r in rs) for key in
               ("cpu_us_per_request", "main_us", "threads_us", "children_us", "requests_per_sec")}
        for name, rs in runs.items()}, "not_caught_up": sum(not r["caught_up"] for rs in runs.values() for r in rs)}
    pairs = {"control: off (control) / off": (CONTROL, OFF), "on / off": (ON, OFF), "on / off (control)": (ON, CONTROL)}
    pairs.update({f"{name} / off": (name, OFF) for name in (PER_REQUEST, BEFORE) if name in runs})
    out["cpu_ratios"] = {label: cpu_ratio(*pair) for label, pair in pairs.items()}
    # Against both offs of the round (their mean CPU per request): the headline, with the control's spread beside.
    both = [(a["cpu_us_per_request"] + b["cpu_us_per_request"]) / 2 / c["cpu_us_per_request"]
            for a, b, c in zip(runs[OFF], runs[CONTROL], runs[ON], strict=True)]
    out["cpu_ratios"]["on / mean of both offs"] = both
    out["cpu_summary"] = {label: summary(values) for label, values in out["cpu_ratios"].items()}
    out["rps_summary"] = {label: summary(rps_ratio(*pair)) for label, pair in pairs.items()}
    out["rps_summary"]["on / mean of both offs"] = summary([2 * c["requests_per_sec"] / (
        a["requests_per_sec"] + b["requests_per_sec"]) for a, b, c in zip(runs[OFF], runs[CONTROL], runs[ON],
                                                                          strict=True)])
    return out


def report(results: dict[str, Any], started: dict[str, str], finished: str, args: argparse.Namespace,
           server_cpu: str, client_cpus: str) -> None:
    """Print the medians by variant and the ratio summaries, the control first."""
    print(f"start: {started['uptime']}\nend:   {finished}")
    print(f"servers + reporting children on CPU {server_cpu}, wrk on CPU {client_cpus} (-t{args.threads} "
          f"-c{args.connections}), nice {args.nice}; {args.rounds} ABBA rounds of {args.duration} s, CPU read "
          f"{args.settle} s after")
    for route, result in results.items():
        print(f"\n[{route}] median per request (us): total / main thread / other threads / children; req/s")
        for name, m in result["median_us"].items():
            print(f"  {name:24} {m['cpu_us_per_request']:7.1f} / {m['main_us']:6.1f} / {m['threads_us']:5.2f} / "
                  f"{m['children_us']:5.2f}   {m['requests_per_sec']:7.0f}")
        print("  throughput ratio on one CPU (CPU per request of the denominator / numerator), per round:")
        for label, s in result["cpu_summary"].items():
            r = result["rps_summary"][label]
            print(f"  {label:34} median {s['median']:.3f}  quartiles {s['q1']:.3f}-{s['q3']:.3f}  "
                  f"range {s['min']:.3f}-{s['max']:.3f}  (req/s ratio median {r['median']:.3f})")
        if result["not_caught_up"]:
            print(f"  note: {result['not_caught_up']} run(s) read before the reporter caught up")
