"""Idle cost of the environment stack: CPU over 60 s and memory of every container, no deployment, no traffic.

Goal (issue 18): CPU <= 2 % of one core, memory <= 600 MB in total. CPU comes from each container's cgroup
(cpuacct.usage, cgroup v1 as on this host: healthcheck probes count, since `docker exec` runs in the container's
cgroup); the engine's own CPU over the same window (dockerd, containerd, shims: setting up each probe's exec) is
reported beside it. Isolated stack (own project, network, ports), removed afterwards.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, save  # noqa: F401  (ROOT puts the checkout on sys.path)

from bosun_local.engine import adapter
from tests.agent.harness import world_readable_home
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds after healthy before measuring")
    args = parser.parse_args()
    name = f"bbidle{os.getpid() % 100000}"
    home = world_readable_home(f"{name}-")
    write_test_config(home, name, monitoringEnabled=True)
    env = {**os.environ, "BOSUN_HOME": str(home)}
    try:
        subprocess.run([str(BIN / "bosun-local"), "up", "--wait"], env=env, check=True, capture_output=True,
                       timeout=900)
        time.sleep(args.settle)
        containers = [c for c in adapter.containers_with_labels({"com.docker.compose.project": name})
                      if c.status == "running"]
        before = {c.name: cpu_ns(c.id) for c in containers}
        engine_before = engine_ticks()
        load_before = os.getloadavg()
        time.sleep(args.seconds)
        after = {c.name: cpu_ns(c.id) for c in containers}
        engine = engine_percent(engine_before, engine_ticks(), args.seconds)
        memory = adapter.container_memory([c.name for c in containers])
        cpu = {n: round(100.0 * (after[n] - before[n]) / 1e9 / args.seconds, 2) for n in before}
        result = {"seconds": args.seconds, "cpuPercentOfOneCore": cpu, "cpuTotalPercent": round(sum(cpu.values()), 2),
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
