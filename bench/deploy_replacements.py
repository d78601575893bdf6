"""Failed requests across model replacements under load: N blue/green replacements while a client loops.

Goal (issue 6): 0 failed requests. Isolated stack (own traefik, network, ports), removed afterwards.
"""
from __future__ import annotations

import argparse
import time

from _common import ROOT, PredictionLoad, save, summary  # noqa: F401  (ROOT puts the checkout on sys.path)

from tests.agent.harness import agent_env
from tests.agent.packages import ROW, diabetes_package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replacements", type=int, default=10)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    with agent_env("bbrepl", agent_args=["--poll-sec", "0.1"]) as stack:
        packages = [stack.cli_json("packages", "register", str(diabetes_package(stack.home / "src" / f"m{i}",
                                                                                 alpha=None if i == 0 else 1.0)))["id"]
                    for i in range(2)]
        dep = stack.cli_json("deploy", packages[0], "--name", "bench-replace", "--wait")["deployment"]
        durations = []
        phases: dict[str, list[float]] = {}
        url = f"{stack.web}/deployments/{dep['id']}/predictions"
        with PredictionLoad(url, [ROW], args.clients) as load, stack.client() as client:
            for i in range(args.replacements):
                start = time.monotonic()
                answer = client.replace_model(dep["id"], packages[(i + 1) % 2])
                action = client.wait_for_action(answer["action"]["id"], timeout=600)
                assert action["status"] == "done", action
                durations.append(time.monotonic() - start)
                for step, sec in (((action.get("result") or {}).get("data") or {}).get("phasesSec") or {}).items():
                    phases.setdefault(step, []).append(sec)
    save("deploy_replacements", {"replacements": args.replacements, "requests": sum(load.ok) + len(load.failures),
                                 "failedRequests": len(load.failures), "failureSamples": load.failures[:5],
                                 "replacementSec": summary(durations), "goal_failed": 0,
                                 "phasesSec": {step: summary(v) for step, v in phases.items()}})


if __name__ == "__main__":
    main()
