"""Issue 17's bench: PPS throughput with the input bounds vs. the code before them, and CSV parse time by width.

1. The same small CSV and JSON `/predictions` bodies through `wrk`, side by side in one run, alternating rounds:
   the PPS of this checkout with every bound on (a memory budget of 512 MB: each body's cost estimated and
   reserved) and with the budget off (no limit), and the PPS of commit BEFORE (exported beside it with
   `git archive`; other work landed since, so that ratio is informational). Besides requests/s, the
   server's CPU seconds per request (psutil): on a loaded shared machine wall-clock req/s swings 2-5x between
   rounds while CPU per request holds, so the capacity ratio is before's CPU per request over ours.
2. CSV parse CPU time for a header of 1k, 10k and 100k columns (a model of that width, 10 rows), here and before.
3. In process (`--in-process`), the part wrk cannot resolve on a loaded host: the same app with the memory budget
   on and off, and a second app with it off as the control, called through ASGI in one process, rotating 101
   rounds of 400 requests; each round's CPU time (process_time) per request. Loopback, uvicorn and wrk are out of
   the measurement, so the bounds' share of the app's own work is what is left (the strictest ratio), and other
   processes' load moves every variant alike; off vs. control is the noise floor.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import psutil
from _common import FEATURES, ROOT, diabetes_package, save, server

BEFORE = "eaa5b2c"  # main before issue 17's input bounds
ROUNDS, SECONDS = 7, 5
ROW = {"age": 30, "sex": 1, "bmi": 23, "bp": 100, "s1": 157, "s2": 70, "s3": 40, "s4": 4, "s5": 3, "s6": 88}
BODIES = {
    "csv-10-rows": ("text/csv", ",".join(FEATURES) + "\\n" + (",".join(str(ROW[f]) for f in FEATURES) + "\\n") * 10),
    "json-10-rows": ("application/json", json.dumps([ROW] * 10).replace('"', '\\"')),
}
PARSE = """
import sys, time
from bosun_local.model_package import Feature
from bosun_local.pps.inputs import Schema
from bosun_local.pps.passthrough import PredictOptions, read_table
width = int(sys.argv[1])
names = [f"c{i}" for i in range(width)]
body = (",".join(names) + "\\n" + "\\n".join(",".join("1" for _ in names) for _ in range(10)) + "\\n").encode()
schema = Schema([Feature(n) for n in names])
times = []
for _ in range(int(sys.argv[2])):
    started = time.process_time()
    read_table("text/csv", body, schema, PredictOptions(), False)
    times.append(time.process_time() - started)
print(min(times))
"""


def export_before() -> Path:
    """Export the tree of commit BEFORE into a temp dir and return it."""
    target = Path(tempfile.mkdtemp(prefix="bench-before-"))
    archive = subprocess.run(["git", "archive", BEFORE], cwd=ROOT, capture_output=True, check=True).stdout
    tar_path = target / "tree.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(target, filter="data")
    tar_path.unlink()
    return target


def env_for(tree: Path) -> dict[str, str]:
    """Return the environment that makes `python -m bosun_local...` import the given tree."""
    return {"PYTHONPATH": str(tree), "PYTHONSAFEPATH": "1"}


def server_cpu(url: str) -> float:
    """Return the CPU seconds so far of the process listening on url's port (and its children)."""
    port = int(url.rsplit(":", 1)[1])
    owner = next(c.pid for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port
                 and c.status == psutil.CONN_LISTEN)
    procs = [psutil.Process(owner), *psutil.Process(owner).children(recursive=True)]
    return sum(t.user + t.system for t in (p.cpu_times() for p in procs))


def wrk_post(url: str, media_type: str, body: str) -> tuple[float, float]:
    """Return (req/s, server CPU microseconds per request) of wrk -t2 -c16 posting body to url/predictions."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(f'wrk.method = "POST"\nwrk.body = "{body}"\nwrk.headers["Content-Type"] = "{media_type}"\n')
    cpu = server_cpu(url)
    try:
        out = subprocess.run(["wrk", "-t2", "-c16", f"-d{SECONDS}s", "-s", str(script), f"{url}/predictions"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        script.unlink()
    cpu = server_cpu(url) - cpu
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx answers from {url}:\n{out}")
    requests = int(out.split(" requests in ")[0].split()[-1])
    return float(out.split("Requests/sec:")[1].split()[0]), cpu / requests * 1e6


def parse_seconds(tree: Path, width: int, repeat: int = 5) -> float:
    """Return the least CPU time of `repeat` parses of a `width`-column CSV (10 rows) with the code of tree."""
    done = subprocess.run([sys.executable, "-c", PARSE, str(width), str(repeat)], env={**os.environ, **env_for(tree)},
                          capture_output=True, text=True, timeout=900, check=True)
    return float(done.stdout.strip())


def imported_from(tree: Path) -> str:
    """Return where `bosun_local` is imported from with env_for(tree) (the bench must compare two trees)."""
    return subprocess.run([sys.executable, "-c", "import bosun_local; print(bosun_local.__file__)"],
                          env={**os.environ, **env_for(tree)}, capture_output=True, text=True, check=True).stdout


def in_process(rounds: int = 101, per_round: int = 400) -> dict[str, object]:
    """Return app CPU µs per request with the memory budget on and off, alternating rounds in one process."""
    import asyncio

    from bosun_local.pps.memory import MemoryBudget
    from bosun_local.pps.server import build_app
    from bosun_local.pps.settings import from_env

    package = diabetes_package()
    settings = from_env({"PPS_MODEL_DIR": str(package), "MONITORING_ENABLED": "0"})
    # A third app, also without the budget, is the control: off vs. control shows the noise of two app objects.
    apps = {"bounds_on": build_app(settings), "bounds_off": build_app(settings), "control": build_app(settings)}
    apps["bounds_on"].memory = MemoryBudget(512 << 20, 512 << 20)
    bodies = {"csv-10-rows": ("text/csv", (",".join(FEATURES) + "\n" + (",".join(str(ROW[f]) for f in FEATURES)
                                                                       + "\n") * 10).encode()),
              "json-10-rows": ("application/json", json.dumps([ROW] * 10).encode())}

    async def call(app: object, body: bytes, media_type: str) -> int:
        """Send one POST /predictions straight into the ASGI app (no client library); return its status."""
        done = asyncio.Event()
        status: list[int] = []
        pending = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, object]:
            if pending:
                return pending.pop()
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))  # type: ignore[call-overload]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/predictions", "raw_path": b"/predictions", "query_string": b"",
                 "root_path": "", "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080),
                 "headers": [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]}
        await app(scope, receive, send)  # type: ignore[operator]
        return status[0]

    async def run() -> dict[str, object]:
        out: dict[str, object] = {}
        for name, (media_type, body) in bodies.items():
            cpu: dict[str, list[float]] = {k: [] for k in apps}
            order = list(apps)
            for round_ in range(rounds):  # each app takes each place in the order in turn
                for label in order[round_ % 3:] + order[:round_ % 3]:
                    started = time.process_time()
                    for _ in range(per_round):
                        assert await call(apps[label], body, media_type) == 200
                    cpu[label].append((time.process_time() - started) / per_round * 1e6)
            ratios = [off / on for on, off in zip(cpu["bounds_on"], cpu["bounds_off"], strict=True)]
            controls = [off / c for c, off in zip(cpu["control"], cpu["bounds_off"], strict=True)]
            out[name] = {"cpu_us_per_request": cpu,
                         "median_us": {k: round(statistics.median(v), 1) for k, v in cpu.items()},
                         "capacity_on_vs_off_median_of_rounds": round(statistics.median(ratios), 3),
                         "capacity_on_vs_off_quartiles": [round(q, 3) for q in statistics.quantiles(ratios, n=4)],
                         "control_off_vs_off_median_of_rounds": round(statistics.median(controls), 3),
                         "control_quartiles": [round(q, 3) for q in statistics.quantiles(controls, n=4)]}
        return out

    return asyncio.run(run())


def main() -> None:
    if "--in-process" in sys.argv:
        save("input_bounds_in_process", {**in_process(), "load_average": os.getloadavg()})
        return
    before = export_before()
    assert imported_from(before).startswith(str(before)), imported_from(before)
    package = diabetes_package()
    base = {"PPS_MODEL_DIR": str(package), "PPS_HOST": "127.0.0.1", "MONITORING_ENABLED": "0"}
    cmd = [sys.executable, "-m", "bosun_local.pps"]
    result: dict[str, object] = {"before": BEFORE, "rounds": ROUNDS, "seconds": SECONDS}
    on = {**base, **env_for(ROOT), "PPS_MEMORY_LIMIT_BYTES": str(512 << 20)}
    with server(cmd, on, "/ping") as on_url, server(cmd, {**base, **env_for(ROOT)}, "/ping") as off_url, \
            server(cmd, {**base, **env_for(before)}, "/ping") as before_url:
        for name, (media_type, body) in BODIES.items():
            runs: dict[str, list[tuple[float, float]]] = {"bounds_on": [], "bounds_off": [], "before": []}
            order = [("bounds_on", on_url), ("bounds_off", off_url), ("before", before_url)]
            for round_ in range(ROUNDS):  # each variant takes each place in the order in turn
                for label, url in order[round_ % 3:] + order[:round_ % 3]:
                    runs[label].append(wrk_post(url, media_type, body))
            rps = {k: statistics.median(r for r, _ in v) for k, v in runs.items()}
            cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
            result[name] = {**runs, "median_rps": rps, "median_cpu_us_per_request": cpu,
                            # capacity = requests per CPU-second: the ratio that holds on a loaded machine
                            "capacity_on_vs_off": round(cpu["bounds_off"] / cpu["bounds_on"], 3),
                            "capacity_on_vs_before": round(cpu["before"] / cpu["bounds_on"], 3)}
    widths: dict[int, dict[str, float]] = {}
    for width in (1_000, 10_000, 100_000) if "--throughput-only" not in sys.argv else ():
        started = time.monotonic()
        widths[width] = {"bounds_on_sec": round(parse_seconds(ROOT, width), 4)}
        if width <= 10_000:  # before: quadratic, 100k columns would take ~100x the 10k time
            widths[width]["before_sec"] = round(parse_seconds(before, width, 1 if width > 1_000 else 5), 4)
        widths[width]["wall_sec"] = round(time.monotonic() - started, 1)
    result["csv_parse_by_width"] = widths
    result["load_average"] = os.getloadavg()
    save("input_bounds", result)


if __name__ == "__main__":
    main()
