"""What a challenger costs the champion's throughput, by feed, and promote / rollback durations (issue 20).

Side by side in one run: deployments of the same package behind the same traefik, one plain and one per challenger
feed (`--feeds replay,mirror`): a challenger fed by replay (the monitoring agent sends it the rows the champion
reported, once stored) or by traefik's mirror (a copy of every request). wrk alternates between them for several
rounds (the machine is shared, so alternating keeps all under the same background load). Every PPS gets the same
CPU budget (keyValueConfig cpus), so each ratio measures what that feed costs the champion, not a fight over cores.
Monitoring is on for every deployment (a replay is of what the champion reports; the plain one pays the same
reporting). Goal: with a challenger / plain >= 0.9. Then the time from request to done of: challenger promote
(replacement plus the traffic update), canary promote, and rollback.

--pin gives the champions CPU 0 alone and everything else (challengers, traefik, the rest of the stack, the
monitoring agent) and wrk CPU 1 (`docker update --cpuset-cpus`, `taskset`): on a 2-core host this stands for the
challengers running on other hardware than the champion, so the ratio shows what the feed costs the champion's path.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

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


def containers(stack: AgentEnv, deps: dict[str, str], challengers: bool = True) -> dict[str, ContainerInfo]:
    """Return the containers the run pins and times: each champion, each challenger and traefik (one each)."""
    found = {f"champion-{name}": adapter.containers_with_labels({labels.DEPLOYMENT: dep, labels.ROLE: "champion"})
             for name, dep in deps.items()}
    if challengers:
        found |= {f"challenger-{name}": adapter.containers_with_labels({labels.DEPLOYMENT: dep,
                                                                        labels.ROLE: "challenger"})
                  for name, dep in deps.items() if name != "plain"}
    found["traefik"] = adapter.containers_with_labels({labels.COMPOSE_PROJECT: stack.name,
                                                        labels.COMPONENT: "traefik"})
    assert all(len(each) == 1 for each in found.values()), found
    return {name: each[0] for name, each in found.items()}


def pin(stack: AgentEnv, found: dict[str, ContainerInfo]) -> dict[str, list[str]]:
    """Put the champions alone on CPU 0, every other container of the stack on CPU 1; return the names by CPU.

    The rest of the stack (records go through RabbitMQ, the monitoring agent and the service) works harder with a
    challenger; left free to run on CPU 0 it shares the champions' CPU and caches.
    """
    champions = [c.name for role, c in found.items() if role.startswith("champion-")]
    rest = [c.name for c in adapter.containers_with_labels({labels.COMPOSE_PROJECT: stack.name})
            if c.status == "running" and c.name not in champions]
    rest += [c.name for role, c in found.items() if role.startswith("challenger-")]
    by_cpu = {"0": champions, "1": sorted(set(rest))}
    for cpu, names in by_cpu.items():
        subprocess.run(["docker", "update", "--cpuset-cpus", cpu, *names], check=True, capture_output=True)
    return by_cpu


def pin_host_processes(stack: AgentEnv, cpu: str) -> list[int]:
    """Pin every host process of the stack (service, agents: BOSUN_HOME is its data dir) to `cpu`; return pids."""
    marker = f"BOSUN_HOME={stack.home}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            continue
    for pid in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(pid)], capture_output=True)
    return pids


def per_round(samples: dict[str, list[float]], name: str) -> dict[str, float]:
    """Return the median and quartiles of name / plain, round by round (both measured minutes apart at most)."""
    ratios = sorted(a / b for a, b in zip(samples[name], samples["plain"], strict=True) if b)
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return {"median": round(statistics.median(ratios), 3), "q1": round(q[0], 3), "q3": round(q[2], 3)}


def throughput(stack: AgentEnv, deps: dict[str, str], found: dict[str, ContainerInfo], rounds: int, seconds: int,
               connections: int, wrk_cpus: str | None = None) -> dict:
    """Rotate wrk over the deployments; return req/s samples and each one's ratio to the plain one."""
    samples: dict[str, list[float]] = {name: [] for name in deps}
    # CPU µs per request of each container during each run: where a request's cost lands.
    cpu_per_request: dict[str, list[dict[str, float]]] = {name: [] for name in deps}
    ids = {name: container.id for name, container in found.items()}
    errors = 0.0
    names = list(deps)
    for round_ in range(rounds):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
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
    medians = {name: statistics.median(values) for name, values in samples.items()}
    plain = medians["plain"]
    # The loaded champion's own CPU per request in its run: what the feed costs the champion's path itself.
    champion_us = {name: [run[f"champion-{name}"] for run in runs] for name, runs in cpu_per_request.items()}
    inverse = {name: [1 / v if v else 0.0 for v in values] for name, values in champion_us.items()}
    return {"requestsPerSec": samples, "cpuUsPerRequest": cpu_per_request, "median": medians,
            "ratioToPlain": {name: m / plain if plain else None for name, m in medians.items() if name != "plain"},
            "ratioToPlainPerRound": {name: per_round(samples, name) for name in deps if name != "plain"},
            "championUsPerRequest": champion_us,
            "championCpuRatioPerRound": {name: per_round(inverse, name) for name in deps if name != "plain"},
            "wrkErrors": errors, "goal_ratio": 0.9}


def champion_predictions(stack: AgentEnv, deps: dict[str, str]) -> dict[str, int]:
    """Return each deployment's champion predictions so far (stored)."""
    return {name: int(stack.cli_json("stats", dep, "--window", "1h")["predictions"] or 0) for name, dep in deps.items()}


def challenger_counts(stack: AgentEnv, deps: dict[str, str], before: dict[str, int],
                      wait_sec: float = 180.0) -> dict[str, dict[str, int]]:
    """Return champion predictions since the challengers came, and the challenger's, once it stops catching up."""
    counts: dict[str, dict[str, int]] = {}
    for name, dep in deps.items():
        if name == "plain":
            continue
        deadline, last = time.monotonic() + wait_sec, -1
        while True:
            models = stack.cli_json("stats", dep, "--compare", "--window", "1h")["models"]
            got = {m["role"]: int(m["predictions"] or 0) for m in models}
            got["champion"] -= before.get(name, 0)
            if got.get("challenger") == got.get("champion") or got.get("challenger") == last \
                    or time.monotonic() > deadline:
                break
            last = got.get("challenger", 0)
            time.sleep(5)
        counts[name] = got
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--cpus", default="0.5", help="CPU budget of every PPS container")
    parser.add_argument("--feeds", default="replay,mirror", help="challenger feeds to compare with the plain one")
    parser.add_argument("--switches", type=int, default=2, help="promotions and rollbacks to time")
    parser.add_argument("--pin", action="store_true", help="champions on CPU 0; challengers, traefik, wrk on CPU 1")
    parser.add_argument("--control-rounds", type=int, default=0,
                        help="rounds of the same deployments before the challengers are added (a control ratio)")
    parser.add_argument("--challenger-cpus", help="CPU budget of the challengers (default: --cpus); more than the "
                        "champions' keeps them from being the limit, as on other hardware")
    args = parser.parse_args()
    feeds = [f.strip() for f in args.feeds.split(",") if f.strip()]
    load_before = os.getloadavg()
    with agent_env("bbtrf", agent_args=["--status-interval-sec", "2"], services="traefik,rabbitmq",
                   monitoringEnabled=True) as stack:
        log = open(stack.home / "logs" / "monitor-bench.log", "ab")  # noqa: SIM115 - closed below
        monitor = subprocess.Popen([*(["taskset", "-c", "1"] if args.pin else []), sys.executable, "-m",
                                    "bosun_local", "monitor", "run"], env=stack.env, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            src = stack.home / "src"
            a = stack.cli_json("packages", "register", str(diabetes_package(src / "a")))["id"]
            b = stack.cli_json("packages", "register", str(diabetes_package(src / "b", alpha=10.0)))["id"]
            kv = ["--kv", f"cpus={args.cpus}"]
            deps = {name: stack.cli_json("deploy", a, "--name", f"bench-{name}", *kv, "--wait")["deployment"]["id"]
                    for name in ("plain", *feeds)}
            control, hosts = None, []
            if args.pin:
                hosts = pin_host_processes(stack, "1")
            if args.control_rounds:
                # The same champions before any has a challenger: how far apart equal containers run.
                found = containers(stack, deps, challengers=False)
                if args.pin:
                    pin(stack, found)
                control = throughput(stack, deps, found, args.control_rounds, args.seconds, args.connections,
                                     "1" if args.pin else None)
            time.sleep(3)  # the control rounds' last records stored
            before = champion_predictions(stack, deps)
            for feed in feeds:
                stack.cli("deployments", "challengers", "add", deps[feed], b, "--feed", feed, "--wait")
            found = containers(stack, deps)
            pinned = pin(stack, found) if args.pin else None
            if args.challenger_cpus:
                side = [c.name for role, c in found.items() if role.startswith("challenger-")]
                subprocess.run(["docker", "update", "--cpus", args.challenger_cpus, *side], check=True,
                               capture_output=True)
            figures = throughput(stack, deps, found, args.rounds, args.seconds, args.connections,
                                 "1" if args.pin else None)
            load_mid = os.getloadavg()
            counts = challenger_counts(stack, deps, before)
            dep = deps[feeds[0]]
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
        finally:
            monitor.terminate()
            monitor.wait(30)
            log.close()
    save("traffic_mirroring", {
        "throughput": figures, "controlBeforeTheChallengers": control, "cpusPerPps": args.cpus,
        "challengerCpus": args.challenger_cpus or args.cpus, "feeds": feeds,
        "predictionsAfterTheRounds": counts, "pinned": pinned, "pinnedHostProcesses": len(hosts),
        "wrk": {"threads": 2, "connections": args.connections, "seconds": args.seconds, "rounds": args.rounds},
        "challengerPromoteSec": summary(promotes), "canaryPromoteSec": summary(canaries),
        "rollbackSec": summary(rollbacks), "loadAverage": {"before": load_before, "afterThroughput": load_mid,
                                                          "end": os.getloadavg()}})


if __name__ == "__main__":
    main()
