"""Measure the dashboard's CPU with N deployments refreshed every second (goal: <= 10 % of one core at 100).

Starts a service in a throwaway data dir, creates external deployments (ready at once), keeps feeding them
figures every second (so cells really change; `--static` measures the idle case), runs
`bosun-local dashboard --interval 1` in a real terminal (tmux, 160x48; headless Textual when tmux is
missing) and reads the dashboard's and the service's CPU time from /proc/<pid>/stat over the measuring
window. Prints both sizes side by side with their ratio.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import save

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bosun_local.client import ServiceClient  # noqa: E402
from bosun_local.contracts.latency import LatencySketch  # noqa: E402
from tests.support.service import free_port, start_service, stop_service, wait_healthy  # noqa: E402
from tests.tui.conftest import write_tiny_package  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
HEADLESS = """\
import sys
from bosun_local.client import ServiceClient
from bosun_local.tui.app import DashboardApp
DashboardApp(ServiceClient(sys.argv[1], sys.argv[2], timeout=5.0), interval=float(sys.argv[3])).run(headless=True)
"""


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def traffic(deployments: list[dict[str, str]], step: int) -> list[dict[str, object]]:
    """Return one stats record per deployment for the current minute (varying with `step`)."""
    minute = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z")
    records = []
    for i, dep in enumerate(deployments):
        latency = LatencySketch()
        latency.add(5.0 * (1 + (i + step) % 5), 5 + i % 11)
        records.append({"recordId": secrets.token_hex(8), "deploymentId": dep["id"], "modelId": dep["modelId"],
                        "minute": minute, "kind": "stats", "predictions": 5 + i % 11, "systemErrors": (i + step) % 3,
                        "latencySketch": latency.to_wire()})
    return records


def seed(client: ServiceClient, tmp: Path, count: int) -> list[dict[str, str]]:
    """Create `count` external deployments, each with one batch of stats; return them."""
    package = client.register_package(write_tiny_package(tmp / "pkg", "bench-model"))
    deployments = [client.create_deployment(package["id"], f"bench-{i:03d}", external=True)["deployment"]
                   for i in range(count)]
    client.ingest(traffic(deployments, 0))
    return deployments


def feed(url: str, token: str, deployments: list[dict[str, str]], stop: threading.Event) -> None:
    """Keep figures changing (one stats record per deployment per second) so the table really updates."""
    with ServiceClient(url, token) as client:
        step = 1
        while not stop.wait(1.0):
            client.ingest(traffic(deployments, step))
            step += 1


def start_dashboard(url: str, token: str, interval: float, session: str) -> tuple[int, str]:
    """Start the dashboard in tmux (or headless); return its pid and how it runs."""
    if shutil.which("tmux"):
        command = (f"env -u COLUMNS -u LINES {shlex.quote(sys.executable)} -m bosun_local dashboard "
                   f"--url {shlex.quote(url)} --token {shlex.quote(token)} --interval {interval}")
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "48", command], check=True)
        pid = int(subprocess.run(["tmux", "display", "-p", "-t", session, "#{pane_pid}"], capture_output=True,
                                 text=True, check=True).stdout.strip())
        return pid, "tmux 160x48"
    proc = subprocess.Popen([sys.executable, "-c", HEADLESS, url, token, str(interval)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc.pid, "headless (no tmux)"


def check_running(pid: int, session: str, count: int) -> None:
    """Fail unless the measured pid is the dashboard and (in tmux) it shows all the deployments."""
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    if "dashboard" not in cmdline and "DashboardApp" not in cmdline:
        raise SystemExit(f"pid {pid} is not the dashboard: {cmdline}")
    if not shutil.which("tmux"):
        return
    deadline = time.monotonic() + 60
    screen = ""
    while time.monotonic() < deadline:
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
        if f"{count} deployments" in screen and "service up" in screen:
            return
        time.sleep(0.5)
    raise SystemExit(f"the dashboard does not show {count} deployments after 60 s:\n{screen}")


def measure(count: int, seconds: float, interval: float, live: bool) -> dict[str, object]:
    """Return dashboard and service CPU % over `seconds` with `count` deployments."""
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="bosun-bench-dash-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        service = start_service(tmp / "home", port)
        session = f"bosun-bench-{secrets.token_hex(4)}"
        dash_pid = None
        try:
            wait_healthy(service, url, tmp / "home")
            token = (tmp / "home" / "token").read_text().strip()
            with ServiceClient(url, token) as client:
                deployments = seed(client, tmp, count)
            dash_pid, mode = start_dashboard(url, token, interval, session)
            check_running(dash_pid, session, count)
            if live:
                threading.Thread(target=feed, args=(url, token, deployments, stop), daemon=True).start()
            time.sleep(5)  # start-up (imports, first polls) is not the steady state being measured
            d0, s0, t0 = cpu_seconds(dash_pid), cpu_seconds(service.pid), time.monotonic()
            time.sleep(seconds)
            d1, s1, t1 = cpu_seconds(dash_pid), cpu_seconds(service.pid), time.monotonic()
            stop.set()
            wall = t1 - t0
            return {"deployments": count, "mode": mode, "interval_s": interval, "seconds": round(wall, 1), "live": live,
                    "dashboard_cpu_pct": round(100 * (d1 - d0) / wall, 2),
                    "service_cpu_pct": round(100 * (s1 - s0) / wall, 2)}
        finally:
            stop.set()
            if shutil.which("tmux"):
                subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
            elif dash_pid:
                os.kill(dash_pid, 15)
            stop_service(service)


def main() -> None:
    """Measure each size and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100", help="comma-separated deployment counts")
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring window per size")
    parser.add_argument("--interval", type=float, default=1.0, help="dashboard refresh interval")
    parser.add_argument("--static", action="store_true", help="no new figures while measuring (idle repaint cost)")
    args = parser.parse_args()
    rows = [measure(int(n), args.seconds, args.interval, not args.static) for n in args.sizes.split(",")]
    print(f"{'deployments':>12} {'dashboard CPU %':>16} {'service CPU %':>14}  mode")
    for row in rows:
        print(f"{row['deployments']:>12} {row['dashboard_cpu_pct']:>16} {row['service_cpu_pct']:>14}  {row['mode']}")
    base, last = rows[0], rows[-1]
    ratio = (last["dashboard_cpu_pct"] / base["dashboard_cpu_pct"]) if base["dashboard_cpu_pct"] else None
    result = {"runs": rows, "goal_dashboard_cpu_pct_at_100": 10.0, "cpu_os_cores": os.cpu_count(),
              "ratio_dashboard_cpu_last_vs_first": round(ratio, 2) if ratio else None,
              "load_average_1m": os.getloadavg()[0]}
    save(f"dashboard_cpu-{datetime.now().strftime('%Y%m%d-%H%M%S')}", result)


if __name__ == "__main__":
    main()
