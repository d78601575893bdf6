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

from _abba import Variant, caught_up, orders, run_once, run_together, summary, uptime
from _common import save, server_process, wrk_request

OFF, CONTROL, ON = "off", "off (control)", "on"
PER_REQUEST = "on, per-request stats"


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
    for tree in args.tree or ():
        name, _, directory = tree.partition("=")
        out[f"on, {name} tree"] = ({**base, **spool(), "PYTHONPATH": str(Path(directory).resolve())}, True)
    return out


def compare_monitoring(package: Path, args: argparse.Namespace, routes: dict[str, Any], server_cpu: str,
                       client_cpus: str) -> None:
    """Run the rounds per route and print/save the ratios, their spread and the control's."""
    # -P: no current directory first on sys.path, so PYTHONPATH (--tree) decides which bosun_local runs.
    pps = [sys.executable, "-P", "-m", "bosun_local.pps"]
    if args.nice:
        pps = ["nice", "-n", str(args.nice), *pps]
        os.nice(args.nice)  # this process, and so the wrk runs it starts
    started = {"uptime": uptime(), "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    results: dict[str, Any] = {}
    for route in args.routes.split(","):
        method, path, body, headers = routes[route]
        with contextlib.ExitStack() as stack:
            up: dict[str, Variant] = {}
            for name, (env, reports) in variants(package, args).items():
                if args.procs > 1 and name == CONTROL:
                    continue  # with several processes per variant the control pairs two "off" processes
                for i in range(args.procs):
                    key = name if args.procs == 1 else f"{name}#{i + 1}"
                    url, popen = stack.enter_context(server_process(pps, env, ready_path="/ping", cpus=server_cpu))
                    up[key] = Variant(key, url, popen.pid, reports)
            for variant in up.values():  # warm-up: imports, first-call paths, the reporting child started
                wrk_request(variant.url + path, method, body, headers, args.threads, args.connections, 2,
                            cpus=client_cpus)
                caught_up(variant, 60)
            pairs = (measure(up, method, path, body, headers, args, client_cpus) if args.procs == 1
                     else measure_procs(up, method, path, body, headers, args, client_cpus))
        results[route] = analyse(pairs)
        results[route]["loadavg_after"] = os.getloadavg()
    finished = uptime()
    save("pps_monitoring_abba", {"started": started, "finished": finished, "args": {
        k: str(v) for k, v in vars(args).items()}, "results": results})
    report(results, started, finished, args, server_cpu, client_cpus)  # after the raw dump, so it ends the output


def measure(up: dict[str, Variant], method: str, path: str, body: bytes, headers: dict[str, str],
            args: argparse.Namespace, client_cpus: str) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Return, per variant but "off", its runs paired with the "off" run it is compared to, round by round.

    pairs (the default): each variant loaded together with "off" (two wrk, two servers sharing CPU 0 in the same
    window), the pairs in ABBA order; together: every server at once; sequential: one at a time, ABBA order.
    """
    others = [name for name in up if name != OFF]
    pairs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {name: [] for name in others}
    for order in orders(others, args.rounds):
        if args.load == "together":
            got = run_together(list(up.values()), method, path, body, headers, args.duration, args.settle,
                               client_cpus, 1, args.connections)
            for name in others:
                pairs[name].append((got[OFF], got[name]))
            continue
        for name in order:
            if args.load == "pairs":
                got = run_together([up[OFF], up[name]], method, path, body, headers, args.duration, args.settle,
                                   client_cpus, 1, args.connections)
                pairs[name].append((got[OFF], got[name]))
            else:
                off = run_once(up[OFF], method, path, body, headers, args.duration, args.settle, client_cpus,
                               args.threads, args.connections)
                pairs[name].append((off, run_once(up[name], method, path, body, headers, args.duration,
                                                  args.settle, client_cpus, args.threads, args.connections)))
    return pairs


def measure_procs(up: dict[str, Variant], method: str, path: str, body: bytes, headers: dict[str, str],
                  args: argparse.Namespace, client_cpus: str) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Return pairs as measure() does, each variant run as --procs processes paired with every "off" process in turn.

    Two identical servers differ by ~2 % for a whole run (where their memory landed, which cache lines collide), so
    one process per variant measures that process as much as the variant. Round r pairs process i of a variant with
    "off" process (i + r) mod K, and the control pairs two different "off" processes: over K rounds every process
    meets every "off" process, and what is left of the ratio is the variant's.
    """
    k = args.procs
    names = sorted({key.rpartition("#")[0] for key in up if key.rpartition("#")[0] != OFF})
    pairs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {CONTROL: [], **{n: [] for n in names}}
    for r, order in enumerate(orders([*names, CONTROL], args.rounds)):
        for name in order:
            for i in range(k):
                off = up[f"{OFF}#{(i + r) % k + 1}"]
                other = up[f"{OFF}#{(i + r + 1) % k + 1}"] if name == CONTROL else up[f"{name}#{i + 1}"]
                got = run_together([off, other], method, path, body, headers, args.duration, args.settle,
                                   client_cpus, 1, args.connections)
                pairs[name].append((got[off.name], got[other.name]))
    return pairs


def analyse(pairs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]) -> dict[str, Any]:
    """Return per-round ratios against "off" (throughput on one CPU = the inverse CPU ratio) and their summaries."""
    keys = ("cpu_us_per_request", "main_us", "threads_us", "children_us", "requests_per_sec")
    by_variant: dict[str, list[dict[str, Any]]] = {OFF: [off for runs in pairs.values() for off, _ in runs]}
    by_variant.update({name: [run for _, run in runs] for name, runs in pairs.items()})
    cpu = {f"{name} / off": [off["cpu_us_per_request"] / run["cpu_us_per_request"] for off, run in runs]
           for name, runs in pairs.items()}
    rps = {f"{name} / off": [run["requests_per_sec"] / off["requests_per_sec"] for off, run in runs]
           for name, runs in pairs.items()}
    return {"pairs": pairs, "cpu_ratios": cpu, "cpu_summary": {k: summary(v) for k, v in cpu.items()},
            "rps_summary": {k: summary(v) for k, v in rps.items()},
            "median_us": {name: {k: statistics.median(r[k] for r in runs) for k in keys}
                          for name, runs in by_variant.items()},
            "not_caught_up": sum(not r["caught_up"] for runs in by_variant.values() for r in runs)}


def report(results: dict[str, Any], started: dict[str, str], finished: str, args: argparse.Namespace,
           server_cpu: str, client_cpus: str) -> None:
    """Print the medians by variant and the ratio summaries, the control first."""
    print(f"start: {started['uptime']}\nend:   {finished}")
    print(f"servers + reporting children on CPU {server_cpu}, wrk on CPU {client_cpus} (-c{args.connections}), nice "
          f"{args.nice}; load: {args.load}; {args.rounds} rounds of {args.duration} s, CPU read {args.settle} s after")
    for route, result in results.items():
        print(f"\n[{route}] median per request (us): total / main thread / other threads / children; req/s")
        for name, m in result["median_us"].items():
            print(f"  {name:24} {m['cpu_us_per_request']:7.1f} / {m['main_us']:6.1f} / {m['threads_us']:5.2f} / "
                  f"{m['children_us']:5.2f}   {m['requests_per_sec']:7.0f}")
        print("  throughput on one CPU relative to off (off's CPU per request / the variant's), per round:")
        for label, s in result["cpu_summary"].items():
            r = result["rps_summary"][label]
            print(f"  {label:34} median {s['median']:.3f}  quartiles {s['q1']:.3f}-{s['q3']:.3f}  "
                  f"range {s['min']:.3f}-{s['max']:.3f}  (req/s ratio median {r['median']:.3f})")
        if result["not_caught_up"]:
            print(f"  note: {result['not_caught_up']} run(s) read before the reporter caught up")
