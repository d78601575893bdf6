"""Side-by-side CPU comparisons on one pinned CPU: servers loaded together, CPU per request by process tree.

Single runs of the same server swing ±30 % on this KVM guest (run after run, even when idle), and loading one
server at a time in ABBA order still leaves rounds spread ±20 %. Loading the two servers of a comparison at the
same time (one wrk each, both servers on the same CPU) makes whatever slows the guest for a moment hit both alike:
the ratio of their CPU per request then spreads ±1-3 % per round. CPU time in nanoseconds
(/proc/<pid>/task/<tid>/schedstat, not 10 ms ticks), ratios per round, their median and quartiles, and a control
pair of two identical servers whose ratio shows the noise floor.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import wrk_request


def task_ns(pid: int) -> dict[int, int]:
    """Return the on-CPU nanoseconds of each live thread of a process (schedstat's first field)."""
    out: dict[int, int] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            out[int(tid)] = int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    return out


def children(pid: int) -> list[int]:
    """Return the pids of a process's descendants (taskset exec()s the server, so the pid is the server)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except FileNotFoundError:
            kids = []
        out.extend(kids)
        todo.extend(kids)
    return out


@dataclass
class TreeCpu:
    """On-CPU nanoseconds of a server's process tree, split into its main thread, its other threads, children."""

    main: int = 0
    threads: int = 0
    children: int = 0
    per_thread: dict[int, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.main + self.threads + self.children

    @classmethod
    def read(cls, pid: int) -> TreeCpu:
        """Read the tree's CPU now."""
        tasks = task_ns(pid)
        kids = sum(sum(task_ns(child).values()) for child in children(pid))
        main = tasks.pop(pid, 0)
        return cls(main, sum(tasks.values()), kids, tasks)

    def minus(self, before: TreeCpu) -> TreeCpu:
        """Return the CPU spent since `before` (threads that appeared since count whole)."""
        return TreeCpu(self.main - before.main, self.threads - before.threads, self.children - before.children)


@dataclass
class Variant:
    """A server under test: its name, URL and pid; whether it reports (then /info says when it caught up)."""

    name: str
    url: str
    pid: int
    reports: bool = False


def info(url: str) -> dict[str, Any]:
    """Return the server's /info document."""
    with urllib.request.urlopen(url + "/info", timeout=10) as resp:
        return json.loads(resp.read())


def caught_up(variant: Variant, timeout: float = 10.0) -> bool:
    """Wait until the server's reporter shipped everything it was given; False after the timeout."""
    if not variant.reports:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        monitoring = info(variant.url).get("monitoring", {})
        if monitoring.get("reported") == monitoring.get("submitted") and not monitoring.get("queued"):
            return True
        time.sleep(0.1)
    return False


def run_once(variant: Variant, method: str, path: str, body: bytes, headers: dict[str, str], duration: int,
             settle_sec: float, client_cpus: str, threads: int = 2, connections: int = 8) -> dict[str, Any]:
    """Load one server with wrk; CPU is read after the same settle time for every variant (the reporter's tail)."""
    before = TreeCpu.read(variant.pid)
    result = wrk_request(variant.url + path, method, body, headers, threads, connections, duration,
                         cpus=client_cpus)
    time.sleep(settle_sec)
    spent = TreeCpu.read(variant.pid).minus(before)
    requests = max(result["requests"], 1)
    # Read after the window: a reporter still busy would make this run's figure too low, so it is flagged.
    result["caught_up"] = caught_up(variant)
    result.update({"cpu_us_per_request": spent.total / requests / 1e3, "main_us": spent.main / requests / 1e3,
                   "threads_us": spent.threads / requests / 1e3, "children_us": spent.children / requests / 1e3})
    return result


def run_together(variants: list[Variant], method: str, path: str, body: bytes, headers: dict[str, str],
                 duration: int, settle_sec: float, client_cpus: str, threads: int = 1,
                 connections: int = 16) -> dict[str, dict[str, Any]]:
    """Load every server at once (one wrk each), so all of them share CPU 0 in the same window.

    Whatever slows the guest for a moment (the hypervisor taking the CPU, another process, the clock) then hits
    every variant of the round alike; the ratios of their CPU per request cancel it.
    """
    before = {v.name: TreeCpu.read(v.pid) for v in variants}
    with ThreadPoolExecutor(len(variants)) as pool:
        futures = {v.name: pool.submit(wrk_request, v.url + path, method, body, headers, threads, connections,
                                       duration, client_cpus) for v in variants}
        results = {name: future.result() for name, future in futures.items()}
    time.sleep(settle_sec)
    for v in variants:
        spent = TreeCpu.read(v.pid).minus(before[v.name])
        result = results[v.name]
        requests = max(result["requests"], 1)
        result["caught_up"] = caught_up(v)
        result.update({"cpu_us_per_request": spent.total / requests / 1e3, "main_us": spent.main / requests / 1e3,
                       "threads_us": spent.threads / requests / 1e3, "children_us": spent.children / requests / 1e3})
    return results


def orders(names: list[str], rounds: int) -> list[list[str]]:
    """Return each round's order: rotated every two rounds, reversed every other (A B C, C B A, B C A, A C B...)."""
    out = []
    for r in range(rounds):
        shift = (r // 2) % len(names)
        order = names[shift:] + names[:shift]
        out.append(order[::-1] if r % 2 else order)
    return out


def summary(values: list[float]) -> dict[str, float]:
    """Return median, quartiles, min and max of per-round values."""
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else (values * 3)
    return {"median": median, "q1": q1, "q3": q3, "min": min(values), "max": max(values), "n": len(values)}


def uptime() -> str:
    """Return `uptime`'s line (load averages), as the bench row quotes it."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
