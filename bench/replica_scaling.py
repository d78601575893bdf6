"""Replica scaling of a dedicated deployment under load: scale 1 -> N -> 1 rounds and a replacement at N replicas.

Measures each scale action from request to done (split into the plugin's phases: start, routed, drain), the
replacement at N replicas, and the failed requests of a client loop running throughout (goal: 0). Isolated stack
(own traefik, network, ports), removed afterwards.
"""
from __future__ import annotations

import argparse
import time

from _common import ROOT, PredictionLoad, save, summary  # noqa: F401  (ROOT puts the checkout on sys.path)

from bosun_local.client import ServiceClient
from tests.agent.harness import agent_env
from tests.agent.packages import ROW, diabetes_package


def timed(client: ServiceClient, answer: dict, phases: dict[str, list[float]], kind: str) -> float:
    """Wait for an action; return its duration and add its phases under `kind`."""
    start = time.monotonic()
    action = client.wait_for_action(answer["action"]["id"], timeout=600, poll=0.1)
    assert action["status"] == "done", action
    for step, sec in (((action.get("result") or {}).get("data") or {}).get("phasesSec") or {}).items():
        phases.setdefault(f"{kind} {step}", []).append(sec)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    with agent_env("bbscale", agent_args=["--poll-sec", "0.1", "--status-interval-sec", "1"]) as stack:
        packages = [stack.cli_json("packages", "register", str(diabetes_package(stack.home / "src" / f"m{i}",
                                                                                 alpha=None if i == 0 else 1.0)))["id"]
                    for i in range(2)]
        dep = stack.cli_json("deploy", packages[0], "--name", "bench-scale", "--kv", "replicas=1", "--wait")
        dep_id = dep["deployment"]["id"]
        ups, downs, replaces = [], [], []
        phases: dict[str, list[float]] = {}
        url = f"{stack.web}/deployments/{dep_id}/predictions"
        with PredictionLoad(url, [ROW], args.clients) as load, stack.client() as client:
            for i in range(args.rounds):
                ups.append(timed(client, client.scale_deployment(dep_id, args.replicas), phases, "up"))
                if i == 0:
                    replaces.append(timed(client, client.replace_model(dep_id, packages[1]), phases, "replace"))
                downs.append(timed(client, client.scale_deployment(dep_id, 1), phases, "down"))
    save("replica_scaling", {"rounds": args.rounds, "replicas": args.replicas, "clients": args.clients,
                             "requests": sum(load.ok) + len(load.failures), "failedRequests": len(load.failures),
                             "failureSamples": load.failures[:5], "goal_failed": 0,
                             f"scaleUp1to{args.replicas}Sec": summary(ups),
                             f"scaleDown{args.replicas}to1Sec": summary(downs),
                             f"replaceAt{args.replicas}Sec": summary(replaces),
                             "phasesSec": {step: summary(v) for step, v in phases.items()}})


if __name__ == "__main__":
    main()
