"""Service API throughput on PostgreSQL vs SQLite, side by side in one run: reads, event writes, action claims.

Three setups on the same machine and client: one service on its data dir's SQLite file, one service on a fresh
PostgreSQL database (Debian's cluster that `make postgres` starts) and two service replicas sharing one PostgreSQL
database (the scale-out the PostgreSQL backend exists for). Each round runs every workload on every setup in rotated
order; the result is the median req/s per setup and the ratio of each to SQLite.

    python bench/service_storage.py [--rounds 3] [--seconds 6] [--clients 4]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _common import diabetes_package, save

from bosun_local.client import ServiceClient
from tests.support.postgres import fresh_database, queue_starts_directly, require_server
from tests.support.service import running_service

SETUPS = ("sqlite", "postgres", "postgres x2")
DEPLOYMENTS = 20


class Setup:
    """The service process(es) of one setup, its database URL and what the workloads act on."""

    def __init__(self, name: str, home: Path, urls: list[tuple[str, str]], database: str) -> None:
        self.name, self.home, self.urls, self.database = name, home, urls, database
        self.rounds = 0
        admin = ServiceClient(*urls[0])
        self.environment = admin.create_environment("bench", "test")["id"]
        self.package = admin.register_package(diabetes_package(home / "pkg"))["id"]
        created = [admin.create_deployment(self.package, f"d{i}", environment=self.environment)
                   for i in range(DEPLOYMENTS)]
        self.deployments = [c["deployment"]["id"] for c in created]
        admin.close()

    def client(self, n: int) -> ServiceClient:
        """Return a client of replica n modulo the replicas (clients spread evenly over them)."""
        return ServiceClient(*self.urls[n % len(self.urls)])


@contextlib.contextmanager
def setup(name: str, root: Path) -> Iterator[Setup]:
    """Start the setup's service(s) on a fresh database."""
    home = root / name.replace(" ", "-")
    with contextlib.ExitStack() as stack:
        database = "" if name == "sqlite" else stack.enter_context(fresh_database("bench"))
        env = {"BOSUN_DATABASE_URL": database} if database else {}
        replicas = 2 if name.endswith("x2") else 1
        urls = [stack.enter_context(running_service(home / f"r{i}", env=env)) for i in range(replicas)]
        yield Setup(name, home / "r0", urls, database)


def run_clients(s: Setup, clients: int, seconds: float, work: Callable[[ServiceClient, int, int], bool]) -> float:
    """Run work(client, thread, i) in `clients` threads for `seconds` (or until it returns False); return calls/s."""
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def loop(n: int) -> None:
        client = s.client(n)
        try:
            while time.monotonic() < stop and work(client, n, counts[n]):
                counts[n] += 1
        finally:
            client.close()

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def reads(s: Setup, clients: int, seconds: float) -> float:
    """GET one deployment and its latest events, alternately (keyed reads: the claims rounds add deployments)."""
    def work(client: ServiceClient, n: int, i: int) -> bool:
        deployment = s.deployments[(n + i) % len(s.deployments)]
        if i % 2:
            client.list_events(deployment=deployment, limit=20)
        else:
            client.get_deployment(deployment)
        return True
    return run_clients(s, clients, seconds, work)


def writes(s: Setup, clients: int, seconds: float) -> float:
    """POST events on the deployments (what agents do for every action and status change)."""
    def work(client: ServiceClient, n: int, i: int) -> bool:
        client.post_event("bench_event", "info", f"bench {n}/{i}", deployment_id=s.deployments[i % 20])
        return True
    return run_clients(s, clients, seconds, work)


def claims(s: Setup, clients: int, seconds: float) -> float:
    """Claim and complete queued actions, as management agents do (each is claimed once: the lease is tested)."""
    s.rounds += 1
    queue_starts_directly(s.home, s.database, s.environment, s.package, 4000, prefix=f"queued{s.rounds}")
    done = {"ok": True, "msg": "bench", "state": "ready", "duration": 0.0, "timestamp": "", "data": {}}

    def work(client: ServiceClient, n: int, i: int) -> bool:
        action = client.claim_action(f"bench-{n}", 60, environment=s.environment)
        if action is None:
            return False
        client.complete_action(action["id"], f"bench-{n}", {**done, "status": "passing"})
        return True
    return run_clients(s, clients, seconds, work)


WORKLOADS: dict[str, Callable[[Setup, int, float], float]] = {"reads": reads, "event writes": writes,
                                                              "action claims": claims}


def main() -> None:
    """Measure every workload on every setup, rotating the order each round; print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    require_server()
    samples: dict[str, dict[str, list[float]]] = {w: {s: [] for s in SETUPS} for w in WORKLOADS}
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp, contextlib.ExitStack() as stack:
        setups = {name: stack.enter_context(setup(name, Path(tmp))) for name in SETUPS}
        for r in range(args.rounds):
            order = SETUPS[r % len(SETUPS):] + SETUPS[:r % len(SETUPS)]
            for workload, fn in WORKLOADS.items():
                for name in order:
                    rate = fn(setups[name], args.clients, args.seconds)
                    samples[workload][name].append(rate)
                    print(f"round {r + 1} {workload:>14} {name:>12}: {rate:8.1f}/s", flush=True)
            load.append(os.getloadavg()[0])
    result: dict[str, Any] = {"rounds": args.rounds, "seconds": args.seconds, "clients": args.clients,
                              "load": [round(x, 1) for x in load], "workloads": {}}
    for workload, per in samples.items():
        medians = {name: statistics.median(v) for name, v in per.items()}
        result["workloads"][workload] = {
            "per_second": {name: round(m, 1) for name, m in medians.items()},
            "vs_sqlite": {name: round(m / medians["sqlite"], 2) for name, m in medians.items() if name != "sqlite"}}
    save("service_storage", result)


if __name__ == "__main__":
    main()
