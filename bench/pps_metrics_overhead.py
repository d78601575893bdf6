"""Bench: PPS single-row /predict requests/s with /metrics on vs off, side by side; goal on/off >= 0.98.

Run: .venv/bin/python bench/pps_metrics_overhead.py [--duration 4] [--rounds 8]
Both servers run at once (PPS_METRICS=1 and PPS_METRICS=0, monitoring off in both so only the metrics differ);
each round loads one then the other, the order swapped every round (ABBA) so drift of the shared machine's load
hits both. While the metrics server is loaded its /metrics is scraped every second, as Prometheus would. Each run
also reads the server's CPU time (psutil) over the requests it answered: on a shared machine wall-clock req/s
swings with the neighbours' load, while CPU per request is what decides throughput once the server has a core, so
off/on CPU per request is the capacity ratio (scrapes included). Also times the per-request bookkeeping in process
(no HTTP, no load noise). Prints the load average before and after and writes
bench/results/pps_metrics_overhead-<time>.json.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FORM, diabetes_package, save, server_process, wrk_request  # noqa: E402

SERVER_CPU, CLIENT_CPUS = "0", "1"
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


def cpu_seconds(proc: psutil.Process) -> float:
    """Return the user+system CPU seconds of a server process."""
    times = proc.cpu_times()
    return float(times.user + times.system)


def scrape_every_second(url: str, stop: threading.Event, sizes: list[int]) -> None:
    """GET /metrics once a second until stopped, keeping each answer's size."""
    while not stop.wait(1.0):
        with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
            sizes.append(len(resp.read()))


def bookkeeping_ns(package: Path, count: int = 200_000) -> dict[str, float]:
    """Return the CPU cost of counting one request (series lookup + observe), in ns of process time (load-proof)."""
    from bosun_local.pps.server import build_app
    from bosun_local.pps.settings import Settings

    app = build_app(Settings(model_dir=package, deployment_id="bench-deployment", model_id="bench-model"))
    metrics = app.metrics
    assert metrics is not None
    paths = ["/predict", "/deployments/bench-deployment/predictions", "/predictions"]
    samples = []
    for _ in range(5):
        started = time.process_time_ns()
        for i in range(count):
            metrics.in_flight += 1
            metrics.in_flight -= 1
            metrics.record(paths[i % 3], 200, 1_500_000)
        samples.append((time.process_time_ns() - started) / count)
    render_started = time.perf_counter_ns()
    size = len(metrics.render())
    return {"ns_per_request_min": min(samples), "ns_per_request_median": statistics.median(samples),
            "render_ms": (time.perf_counter_ns() - render_started) / 1e6, "render_bytes": size}


def asgi_cpu_ratio(package: Path, requests: int = 3000, rounds: int = 20) -> dict[str, float]:
    """Return the CPU per /predict request of the app itself, metrics on vs off (no HTTP server: a lower bound)."""
    import asyncio

    from bosun_local.pps.server import build_app
    from bosun_local.pps.settings import Settings

    settings = Settings(model_dir=package, deployment_id="bench-deployment", model_id="bench-model")
    apps = {"on": build_app(settings), "off": build_app(settings.with_values(metrics=False))}
    body = FORM.encode()
    scope = {"type": "http", "method": "POST", "path": "/predict", "query_string": b"",
             "headers": [(b"content-type", b"application/x-www-form-urlencoded"),
                         (b"content-length", str(len(body)).encode())]}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, object]) -> None:
        return None

    async def drive(app: object) -> int:
        started = time.process_time_ns()
        for _ in range(requests):
            await app(scope, receive, send)  # type: ignore[operator]
        return time.process_time_ns() - started

    cpu: dict[str, list[float]] = {"on": [], "off": []}
    for round_ in range(rounds):
        for mode in (("off", "on") if round_ % 2 == 0 else ("on", "off")):
            cpu[mode].append(asyncio.run(drive(apps[mode])) / requests / 1000)
    on, off = statistics.median(cpu["on"]), statistics.median(cpu["off"])
    # The least disturbed round of each is the best estimate of the code's own cost on a shared machine (as timeit).
    return {"cpu_us_per_request_on": on, "cpu_us_per_request_off": off, "throughput_ratio": off / on,
            "cpu_us_per_request_on_min": min(cpu["on"]), "cpu_us_per_request_off_min": min(cpu["off"]),
            "throughput_ratio_min": min(cpu["off"]) / min(cpu["on"])}


def main() -> None:
    """Load the metrics-on and metrics-off servers in alternation and compare their throughput."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=8, help="rounds of one off and one on run each")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=False,
                        help="both servers on CPU 0, wrk on CPU 1: the two servers then differ only in PPS_METRICS, "
                             "not in where the scheduler put them (slow when a neighbour keeps CPU 0 busy)")
    args = parser.parse_args()

    package = diabetes_package()
    base = {"PPS_MODEL_DIR": str(package), "PPS_HOST": "127.0.0.1", "MLOPS_DEPLOYMENT_ID": "bench-deployment",
            "MLOPS_MODEL_ID": "bench-model", "MONITORING_ENABLED": "0"}
    cmd = [sys.executable, "-m", "bosun_local.pps"]
    runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    sizes: list[int] = []
    load_before = os.getloadavg()
    with contextlib.ExitStack() as servers:
        procs = {mode: servers.enter_context(server_process(cmd, {**base, "PPS_METRICS": flag},
                                                                    cpus=SERVER_CPU if args.pin else None))
                 for mode, flag in (("off", "0"), ("on", "1"))}
        on_url = procs["on"][0]
        for round_ in range(args.rounds):
            for mode in (("off", "on") if round_ % 2 == 0 else ("on", "off")):
                url, popen = procs[mode]
                proc = psutil.Process(popen.pid)
                stop = threading.Event()
                scraper = threading.Thread(target=scrape_every_second, args=(on_url, stop, sizes), daemon=True)
                if mode == "on":
                    scraper.start()
                cpu_before = cpu_seconds(proc)
                try:
                    result = wrk_request(url + "/predict", "GET", FORM.encode(), FORM_TYPE, args.threads,
                                         args.connections, args.duration, cpus=CLIENT_CPUS if args.pin else None)
                finally:
                    stop.set()
                    if mode == "on":
                        scraper.join(10)
                result["cpu_us_per_request"] = (cpu_seconds(proc) - cpu_before) / max(result["requests"], 1) * 1e6
                result["loadavg_1m"] = os.getloadavg()[0]
                runs[mode].append(result)
    load_after = os.getloadavg()
    off = statistics.mean(r["requests_per_sec"] for r in runs["off"])
    on = statistics.mean(r["requests_per_sec"] for r in runs["on"])
    ratios = [a["requests_per_sec"] / b["requests_per_sec"] for a, b in zip(runs["on"], runs["off"], strict=True)]
    cpu_off = statistics.median(r["cpu_us_per_request"] for r in runs["off"])
    cpu_on = statistics.median(r["cpu_us_per_request"] for r in runs["on"])
    cpu_ratios = [b["cpu_us_per_request"] / a["cpu_us_per_request"]
                  for a, b in zip(runs["on"], runs["off"], strict=True)]
    cpu_min_ratio = min(r["cpu_us_per_request"] for r in runs["off"]) / min(r["cpu_us_per_request"] for r in runs["on"])
    inproc = bookkeeping_ns(package)
    asgi = asgi_cpu_ratio(package)
    print(f"{'metrics':8} {'req/s (each run)':>30} {'mean':>8}")
    for mode in ("off", "on"):
        each = " ".join(f"{r['requests_per_sec']:.0f}" for r in runs[mode])
        print(f"{mode:8} {each:>30} {statistics.mean(r['requests_per_sec'] for r in runs[mode]):>8.0f}")
    print(f"ratio on/off of the means: {on / off:.3f}, median of the rounds' ratios: {statistics.median(ratios):.3f} "
          f"(goal >= 0.98); per round: {' '.join(f'{r:.3f}' for r in ratios)}")
    print(f"server CPU per request, median: off {cpu_off:.0f} us, on {cpu_on:.0f} us: capacity ratio on/off "
          f"{cpu_off / cpu_on:.3f}, median of the rounds' {statistics.median(cpu_ratios):.3f} (goal >= 0.98); per "
          f"round: {' '.join(f'{r:.3f}' for r in cpu_ratios)}; least disturbed runs: {cpu_min_ratio:.3f}")
    print(f"bookkeeping per request: {inproc['ns_per_request_median']:.0f} ns; one render "
          f"{inproc['render_ms']:.2f} ms, {inproc['render_bytes']} bytes; {len(sizes)} scrapes during the runs")
    print(f"app CPU per /predict (no HTTP server), median of 20 alternating rounds: off "
          f"{asgi['cpu_us_per_request_off']:.1f} us, on {asgi['cpu_us_per_request_on']:.1f} us: throughput ratio "
          f"{asgi['throughput_ratio']:.3f}; least disturbed rounds: off {asgi['cpu_us_per_request_off_min']:.1f} us, "
          f"on {asgi['cpu_us_per_request_on_min']:.1f} us: {asgi['throughput_ratio_min']:.3f}")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f}, after {load_after[0]:.2f} "
          f"{load_after[1]:.2f} (1 and 5 min; {os.cpu_count()} CPUs, shared machine)")
    save("pps_metrics_overhead", {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(), "wrk": vars(args), "runs": runs,
        "ratio": on / off, "ratios_per_round": ratios, "median_round_ratio": statistics.median(ratios),
        "cpu_us_per_request_off": cpu_off, "cpu_us_per_request_on": cpu_on, "cpu_capacity_ratio": cpu_off / cpu_on,
        "cpu_ratios_per_round": cpu_ratios,
        "cpu_min_ratio": cpu_min_ratio, "goal": 0.98, "in_process": inproc, "asgi_cpu": asgi, "scrapes": len(sizes),
        "loadavg_before": load_before, "loadavg_after": load_after,
    })


if __name__ == "__main__":
    main()
