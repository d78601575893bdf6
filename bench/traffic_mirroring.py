"""Mirroring overhead on the champion's throughput, and promote / rollback durations (issue 20).

Side by side in one run: two deployments of the same package behind the same traefik, one plain and one with a
challenger receiving a mirror of every request; wrk alternates between them for several rounds (the machine is
shared, so alternating keeps both under the same background load). Every PPS gets the same CPU budget
(keyValueConfig cpus), so the ratio measures what the mirror costs the champion, not a fight over cores.
Goal: mirrored / plain >= 0.9. Then the time from request to done of: challenger promote (replacement plus the
traffic update), canary promote, and rollback.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

from _common import ROOT, run_wrk, save, summary  # noqa: F401  (ROOT puts the checkout on sys.path)

from bosun_local.client import ServiceClient
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


def throughput(stack: AgentEnv, deps: dict[str, str], rounds: int, seconds: int, connections: int) -> dict:
    """Alternate wrk between the plain and the mirrored deployment; return req/s samples and the ratio."""
    samples: dict[str, list[float]] = {name: [] for name in deps}
    errors = 0.0
    for round_ in range(rounds):
        order = list(deps) if round_ % 2 == 0 else list(reversed(deps))
        for name in order:
            result = run_wrk(f"{stack.web}/deployments/{deps[name]}/predict", 2, connections, seconds)
            samples[name].append(result["requests_per_sec"])
            errors += result["errors"]
    plain, mirrored = statistics.median(samples["plain"]), statistics.median(samples["mirrored"])
    return {"requestsPerSec": samples, "medianPlain": plain, "medianMirrored": mirrored,
            "ratio": mirrored / plain if plain else None, "wrkErrors": errors, "goal_ratio": 0.9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--cpus", default="0.5", help="CPU budget of every PPS container")
    parser.add_argument("--switches", type=int, default=2, help="promotions and rollbacks to time")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with agent_env("bbtrf", agent_args=["--status-interval-sec", "2"]) as stack:
        src = stack.home / "src"
        a = stack.cli_json("packages", "register", str(diabetes_package(src / "a")))["id"]
        b = stack.cli_json("packages", "register", str(diabetes_package(src / "b", alpha=10.0)))["id"]
        kv = ["--kv", f"cpus={args.cpus}"]
        deps = {name: stack.cli_json("deploy", a, "--name", f"bench-{name}", *kv, "--wait")["deployment"]["id"]
                for name in ("plain", "mirrored")}
        stack.cli("deployments", "challengers", "add", deps["mirrored"], b, "--wait")
        figures = throughput(stack, deps, args.rounds, args.seconds, args.connections)
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
        "throughput": figures, "cpusPerPps": args.cpus, "wrk": {"threads": 2, "connections": args.connections,
                                                                "seconds": args.seconds, "rounds": args.rounds},
        "challengerPromoteSec": summary(promotes), "canaryPromoteSec": summary(canaries),
        "rollbackSec": summary(rollbacks), "loadAverage": {"before": load_before, "afterThroughput": load_mid,
                                                          "end": os.getloadavg()}})


if __name__ == "__main__":
    main()
