"""Idle cost of the environment stack: CPU over 60 s and memory of every container, no deployment, no traffic.

Goal (issue 18): CPU <= 2 % of one core, memory <= 600 MB in total. CPU comes from each container's cgroup
(cpuacct.usage, cgroup v1 as on this host: healthcheck probes count, since `docker exec` runs in the container's
cgroup); the engine's own CPU over the same window (dockerd, containerd, shims: setting up each probe's exec) is
reported beside it. Isolated stack (own project, network, ports), removed afterwards.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, save  # noqa: F401  (ROOT puts the checkout on sys.path)

from bosun_local.contracts import labels
from bosun_local.engine import adapter, engine_api
from tests.agent.harness import world_readable_home
from tests.agent.packages import diabetes_package
from tests.conftest import write_test_config

BIN = Path(sys.executable).parent
CGROUP = Path("/sys/fs/cgroup/cpuacct/docker")
# Each healthcheck probe is an exec the engine sets up (runc, the shim, dockerd): that CPU is outside the
# container's cgroup. Whatever else runs on the engine meanwhile is counted too: an upper bound on an idle host.
ENGINE_PROCESSES = {"dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "runc"}


def cpu_ns(container_id: str) -> int:
    """Return the CPU time (ns) a container's cgroup has used so far."""
    path = CGROUP / container_id / "cpuacct.usage"
    if not path.exists():
        raise SystemExit(f"{path} is missing: this bench reads cgroup v1 cpuacct (the engine's host layout)")
    return int(path.read_text())


def engine_ticks() -> dict[int, int]:
    """Return the CPU clock ticks each engine process on the host (dockerd, containerd, the shims) has used."""
    out: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() not in ENGINE_PROCESSES:
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(proc.name)] = int(fields[11]) + int(fields[12])
    return out


def engine_percent(before: dict[int, int], after: dict[int, int], seconds: float) -> float:
    """Return the engine processes' CPU between two engine_ticks() readings, in % of one core."""
    ticks = sum(t - before[p] for p, t in after.items() if p in before)
    return round(100.0 * ticks / os.sysconf("SC_CLK_TCK") / seconds, 2)


def process_ticks(pid: int) -> int:
    """Return the CPU clock ticks a process and its reaped children have used (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(f) for f in fields[11:15])


def probe_facts(container_id: str) -> tuple[int, float]:
    """Return a container's main pid and its healthcheck interval in seconds (0: no healthcheck)."""
    socket_path = engine_api.local_socket()
    if socket_path is None:
        raise SystemExit("this bench reads the local engine's socket (DOCKER_HOST is remote or a context is set)")
    doc = engine_api.get(socket_path, f"/containers/{container_id}/json", "inspecting a container") or {}
    interval = ((doc.get("Config") or {}).get("Healthcheck") or {}).get("Interval") or 0
    return int((doc.get("State") or {}).get("Pid") or 0), interval / 1e9


def split_probes(cpu_ns_used: int, main_ticks: int, interval_sec: float, seconds: float) -> dict[str, float]:
    """Return a container's CPU split into its main process and the rest (healthcheck execs), per probe too."""
    main_sec = main_ticks / os.sysconf("SC_CLK_TCK")
    rest_sec = max(0.0, cpu_ns_used / 1e9 - main_sec)
    probes = seconds / interval_sec if interval_sec else 0.0
    return {"mainProcessPercent": round(100.0 * main_sec / seconds, 2),
            "probesPercent": round(100.0 * rest_sec / seconds, 2),
            "probeIntervalSec": interval_sec,
            "cpuMsPerProbe": round(1000.0 * rest_sec / probes, 1) if probes else 0.0}


def deploy_dedicated(env: dict[str, str], home: Path) -> str:
    """Register the diabetes package and deploy it dedicated; return the deployment id."""
    def cli(*args: str) -> dict:
        proc = subprocess.run([str(BIN / "bosun-local"), *args, "--json"], env=env, check=True, capture_output=True,
                              text=True, timeout=600)
        return dict(json.loads(proc.stdout))

    package = cli("packages", "register", str(diabetes_package(home / "src" / "diabetes")))["id"]
    return str(cli("deploy", package, "--name", "idle", "--kv", "serving=dedicated", "--wait")["deployment"]["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds after healthy before measuring")
    parser.add_argument("--deployment", action="store_true",
                        help="also run one idle dedicated deployment and measure its PPS container")
    args = parser.parse_args()
    name = f"bbidle{os.getpid() % 100000}"
    home = world_readable_home(f"{name}-")
    write_test_config(home, name, monitoringEnabled=True)
    env = {**os.environ, "BOSUN_HOME": str(home)}
    try:
        subprocess.run([str(BIN / "bosun-local"), "up", "--wait"], env=env, check=True, capture_output=True,
                       timeout=900)
        deployment = deploy_dedicated(env, home) if args.deployment else None
        time.sleep(args.settle)
        containers = [c for c in adapter.containers_with_labels({"com.docker.compose.project": name})
                      if c.status == "running"]
        if deployment:
            containers += adapter.containers_with_labels({labels.DEPLOYMENT: deployment})
        facts = {c.name: probe_facts(c.id) for c in containers}
        before = {c.name: cpu_ns(c.id) for c in containers}
        main_before = {n: process_ticks(pid) for n, (pid, _) in facts.items()}
        engine_before = engine_ticks()
        load_before = os.getloadavg()
        time.sleep(args.seconds)
        after = {c.name: cpu_ns(c.id) for c in containers}
        engine = engine_percent(engine_before, engine_ticks(), args.seconds)
        split = {n: split_probes(after[n] - before[n], process_ticks(facts[n][0]) - main_before[n], facts[n][1],
                                 args.seconds) for n in before}
        memory = adapter.container_memory([c.name for c in containers])
        cpu = {n: round(100.0 * (after[n] - before[n]) / 1e9 / args.seconds, 2) for n in before}
        result = {"seconds": args.seconds, "cpuPercentOfOneCore": cpu, "cpuTotalPercent": round(sum(cpu.values()), 2),
                  "cpuSplit": split,
                  "probesTotalPercent": round(sum(s["probesPercent"] for s in split.values()), 2),
                  "memoryMB": {n: round(v / 2**20, 1) for n, v in memory.items()},
                  "memoryTotalMB": round(sum(memory.values()) / 2**20, 1),
                  "engineCpuPercentOfOneCore": engine,
                  "loadAvgBefore": [round(x, 1) for x in load_before],
                  "loadAvgAfter": [round(x, 1) for x in os.getloadavg()],
                  "goal": {"cpuTotalPercent": 2.0, "memoryTotalMB": 600}}
    finally:
        subprocess.run([str(BIN / "bosun-local"), "down", "--volumes"], env=env, capture_output=True, timeout=300)
        shutil.rmtree(home, ignore_errors=True)
    save("idle_stack", result)


if __name__ == "__main__":
    main()
