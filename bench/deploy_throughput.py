"""Requests/s through traefik vs the PPS directly (the hop's overhead), and memory per deployment.

Same client for both (wrk when installed, else a Python thread pool), same single-row /predict request.
Goals (issue 6): the traefik hop costs little; memory per deployment <= 120 MB. Isolated stack, removed after.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import threading
import time
from urllib.parse import urlencode

import httpx
from _common import ROOT, save  # noqa: F401  (ROOT puts the checkout on sys.path)

from bosun_local.engine import adapter
from tests.agent.harness import agent_env
from tests.agent.packages import ROW, diabetes_package


def wrk_rps(url: str, seconds: int, connections: int) -> float:
    """Return requests/s wrk reaches on a GET url (non-2xx answers count as failures and abort)."""
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True,
                         check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors on {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def python_rps(url: str, seconds: int, connections: int) -> float:
    """Return requests/s of `connections` Python threads looping on a GET url."""
    counts = [0] * connections
    deadline = time.monotonic() + seconds

    def loop(slot: int) -> None:
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < deadline:
                http.get(url).raise_for_status()
                counts[slot] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def container_ip(name: str) -> str:
    """Return the container's address on its (only) network: the host reaches bridge addresses directly."""
    doc = json.loads(subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True).stdout)
    return next(iter(doc[0]["NetworkSettings"]["Networks"].values()))["IPAddress"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--deployments", type=int, default=3, help="deployments to average memory over")
    args = parser.parse_args()
    measure = wrk_rps if shutil.which("wrk") else python_rps
    query = urlencode(ROW)
    with agent_env("bbtput", agent_args=["--poll-sec", "0.1"]) as stack:
        package = stack.cli_json("packages", "register", str(diabetes_package(stack.home / "src" / "m")))["id"]
        deps = [stack.cli_json("deploy", package, "--name", f"tput-{i}", "--wait")["deployment"]
                for i in range(args.deployments)]
        first = deps[0]
        (pps,) = stack.containers(first["id"])
        direct = f"http://{container_ip(pps.name)}:8080/predict?{query}"
        routed = f"{stack.web}/deployments/{first['id']}/predict?{query}"
        for url in (direct, routed):
            httpx.get(url, timeout=10).raise_for_status()
            measure(url, 2, args.connections)  # warm up both paths alike
        rps_direct = measure(direct, args.seconds, args.connections)
        rps_traefik = measure(routed, args.seconds, args.connections)
        time.sleep(2)
        names = [c.name for d in deps for c in stack.containers(d["id"])]
        memory = adapter.container_memory(names)
    mb = [v / 2**20 for v in memory.values()]
    save("deploy_throughput", {
        "client": measure.__name__, "connections": args.connections, "seconds": args.seconds,
        "rpsPpsDirect": round(rps_direct, 1), "rpsThroughTraefik": round(rps_traefik, 1),
        "traefikOverRatio": round(rps_traefik / rps_direct, 3),
        "memoryPerDeploymentMB": {"mean": round(sum(mb) / len(mb), 1), "max": round(max(mb), 1), "n": len(mb)},
        "goal_memory_mb": 120})


if __name__ == "__main__":
    main()
