"""Mirroring overhead on the champion's throughput, and promote / rollback durations (issue 20).

Side by side in one run: two deployments of the same package behind the same traefik, one plain and one with a
challenger receiving a mirror of every request; wrk alternates between them for several rounds (the machine is
shared, so alternating keeps both under the same background load). Every PPS gets the same CPU budget
(keyValueConfig cpus), so the ratio measures what the mirror costs the champion, not a fight over cores.
Goal: mirrored / plain >= 0.9. Then the time from request to done of: challenger promote (replacement plus the
traffic update), canary promote, and rollback.

--pin gives the champions CPU 0 alone and everything else (the challenger, traefik, the rest of the stack) and wrk CPU 1
(`docker update --cpuset-cpus`, `taskset`): on a 2-core host this stands for the challenger running on other
hardware than the champion, so the ratio shows what mirroring costs the champion's own path.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

from _common import FORM, ROOT, save, summary, wrk_request  # noqa: F401  (ROOT puts the checkout on sys.path)
from idle_stack import cpu_ns

from bosun_local.client import ServiceClient
from bosun_local.contracts import labels
from bosun_local.engine import adapter
from bosun_local.engine.adapter import ContainerInfo
from tests.agent.harness import AgentEnv, agent_env
from tests.agent.packages import diabetes_package


def wait_all(client: ServiceClient, answer: dict, deployment_id: str) -> float:
    """Wait until the answer's action and every action queued after it are done; return seconds waited."""
    start = time.monotonic()
    done = client.wait_for_action(answer["action"]["id"], timeout=900)
    assert done["status"] == "done", done
    for action in client.list_actions(deployment_id, status=("pending", "claimed")):
        finished = client.wait_for_action(action["id"], timeout=900)
        assert finished["status"] == "done", finished
    return time.monotonic() - start


def containers(stack: AgentEnv, deps: dict[str, str], challenger: bool = True) -> dict[str, ContainerInfo]:
    """Return the containers the run pins and times: both champions, the challenger and traefik (one each)."""
    found = {f"champion-{name}": adapter.containers_with_labels({labels.DEPLOYMENT: dep, labels.ROLE: "champion"})
             for name, dep in deps.items()}
    if challenger:
        found["challenger"] = adapter.containers_with_labels({labels.DEPLOYMENT: deps["mirrored"],
                                                               labels.ROLE: "challenger"})
    found["traefik"] = adapter.containers_with_labels({labels.COMPOSE_PROJECT: stack.name,
                                                        labels.COMPONENT: "traefik"})
    assert all(len(each) == 1 for each in found.values()), found
    return {name: each[0] for name, each in found.items()}


def pin(stack: AgentEnv, found: dict[str, ContainerInfo]) -> dict[str, list[str]]:
    """Put the champions alone on CPU 0, every other container of the stack on CPU 1; return the names by CPU.

    The rest of the stack (the challenger's records go through RabbitMQ, the monitoring agent and the service)
    works harder in a mirrored run; left free to run on CPU 0 it shares the champions' CPU and caches.
    """
    champions = [found["champion-plain"].name, found["champion-mirrored"].name]
    rest = [c.name for c in adapter.containers_with_labels({labels.COMPOSE_PROJECT: stack.name})
            if c.status == "running" and c.name not in champions]
    rest += [c.name for role, c in found.items() if role == "challenger"]
    by_cpu = {"0": champions, "1": sorted(set(rest))}
    for cpu, names in by_cpu.items():
        subprocess.run(["docker", "update", "--cpuset-cpus", cpu, *names], check=True, capture_output=True)
    return by_cpu


def throughput(stack: AgentEnv, deps: dict[str, str], found: dict[str, ContainerInfo], rounds: int, seconds: int,
               connections: int, wrk_cpus: str | None = None) -> dict:
    """Alternate wrk between the plain and the mirrored deployment; return req/s samples and the ratio."""
    samples: dict[str, list[float]] = {name: [] for name in deps}
    # CPU µs per request of each container during each run: where a mirrored request's cost lands.
    cpu_per_request: dict[str, list[dict[str, float]]] = {name: [] for name in deps}
    ids = {name: container.id for name, container in found.items()}
    errors = 0.0
    for round_ in range(rounds):
        order = list(deps) if round_ % 2 == 0 else list(reversed(deps))
        for name in order:
            before = {c: cpu_ns(i) for c, i in ids.items()}
            result = wrk_request(f"{stack.web}/deployments/{deps[name]}/predict", "GET", FORM.encode(),
                                 {"Content-Type": "application/x-www-form-urlencoded"}, 2, connections, seconds,
                                 cpus=wrk_cpus)
            used = {c: cpu_ns(i) - before[c] for c, i in ids.items()}
            cpu_per_request[name].append({c: round(ns / 1000 / max(result["requests"], 1), 1)
                                          for c, ns in used.items()})
            samples[name].append(result["requests_per_sec"])
            errors += result["errors"]
    plain, mirrored = statistics.median(samples["plain"]), statistics.median(samples["mirrored"])
    return {"requestsPerSec": samples, "cpuUsPerRequest": cpu_per_request, "medianPlain": plain,
            "medianMirrored": mirrored, "ratio": mirrored / plain if plain else None, "wrkErrors": errors,
            "goal_ratio": 0.9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--cpus", default="0.5", help="CPU budget of every PPS container")
    parser.add_argument("--switches", type=int, default=2, help="promotions and rollbacks to time")
    parser.add_argument("--pin", action="store_true", help="champions on CPU 0; challenger, traefik, wrk on CPU 1")
    parser.add_argument("--control-rounds", type=int, default=0,
                        help="rounds of the same two deployments before the challenger is added (a control ratio)")
    parser.add_argument("--challenger-cpus", help="CPU budget of the challenger (default: --cpus); more than the "
                        "champions' keeps it from being the limit, as on other hardware")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with agent_env("bbtrf", agent_args=["--status-interval-sec", "2"]) as stack:
        src = stack.home / "src"
        a = stack.cli_json("packages", "register", str(diabetes_package(src / "a")))["id"]
        b = stack.cli_json("packages", "register", str(diabetes_package(src / "b", alpha=10.0)))["id"]
        kv = ["--kv", f"cpus={args.cpus}"]
        deps = {name: stack.cli_json("deploy", a, "--name", f"bench-{name}", *kv, "--wait")["deployment"]["id"]
                for name in ("plain", "mirrored")}
        control = None
        if args.control_rounds:
            # The same two champions before either is mirrored: how far apart two equal containers run.
            found = containers(stack, deps, challenger=False)
            if args.pin:
                pin(stack, found)
            control = throughput(stack, deps, found, args.control_rounds, args.seconds, args.connections,
                                 "1" if args.pin else None)
        stack.cli("deployments", "challengers", "add", deps["mirrored"], b, "--wait")
        found = containers(stack, deps)
        pinned = pin(stack, found) if args.pin else None
        if args.challenger_cpus:
            subprocess.run(["docker", "update", "--cpus", args.challenger_cpus, found["challenger"].name], check=True,
                           capture_output=True)
        figures = throughput(stack, deps, found, args.rounds, args.seconds, args.connections,
                             "1" if args.pin else None)
        load_mid = os.getloadavg()
        dep = deps["mirrored"]
        promotes, canaries, rollbacks = [], [], []
        with stack.client() as client:
            champion, challenger = a, b
            for _ in range(args.switches):
                promotes.append(wait_all(client, client.promote_challenger(dep, challenger), dep))
                champion, challenger = challenger, champion
            client.remove_challenger(dep, challenger)
            for _ in range(args.switches):
                wait_all(client, client.start_canary(dep, challenger, percent=20), dep)
                canaries.append(wait_all(client, client.promote_canary(dep), dep))
                rollbacks.append(wait_all(client, client.rollback(dep), dep))
    save("traffic_mirroring", {
        "throughput": figures, "controlBeforeTheChallenger": control, "cpusPerPps": args.cpus,
        "challengerCpus": args.challenger_cpus or args.cpus,
        "pinned": pinned,
        "wrk": {"threads": 2, "connections": args.connections, "seconds": args.seconds, "rounds": args.rounds},
        "challengerPromoteSec": summary(promotes), "canaryPromoteSec": summary(canaries),
        "rollbackSec": summary(rollbacks), "loadAverage": {"before": load_before, "afterThroughput": load_mid,
                                                          "end": os.getloadavg()}})


if __name__ == "__main__":
    main()
