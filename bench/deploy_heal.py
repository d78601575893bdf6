"""Heal time: `docker kill` of a deployment's PPS -> relaunched by the agent -> first 200 through traefik again.

Goal (issue 6): relaunched within 10 s. Isolated stack (own traefik, network, ports), removed afterwards.
"""
from __future__ import annotations

import argparse
import subprocess
import time

from _common import ROOT, first_200, save, summary  # noqa: F401  (ROOT puts the checkout on sys.path)

from tests.agent.harness import agent_env, until
from tests.agent.packages import ROW, diabetes_package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    relaunched, answering = [], []
    with agent_env("bbheal", agent_args=["--status-interval-sec", "2"]) as stack:
        package = stack.cli_json("packages", "register", str(diabetes_package(stack.home / "src" / "m")))["id"]
        dep = stack.cli_json("deploy", package, "--name", "bench-heal", "--wait")["deployment"]
        url = f"{stack.web}/deployments/{dep['id']}/predictions"
        for _ in range(args.rounds):
            (before,) = stack.containers(dep["id"])
            start = time.monotonic()
            subprocess.run(["docker", "kill", before.name], check=True, capture_output=True)
            until("the relaunch", lambda b=before: [c for c in stack.containers(dep["id"])
                                                   if c.status == "running" and c.started_at != b.started_at],
                  120, every=0.05)
            relaunched.append(time.monotonic() - start)
            answering.append(first_200(url, ROW) - start)
            time.sleep(3)  # let the agent see the healthy state before the next kill
    save("deploy_heal", {"killToRelaunchedSec": summary(relaunched), "killToFirst200Sec": summary(answering),
                         "goal_relaunch_sec": 10.0})


if __name__ == "__main__":
    main()
