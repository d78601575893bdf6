"""Deploy -> first 200 through traefik: `deploy` queued to a prediction answered on the route (images built).

Goal (issue 6): p50 <= 3 s. Runs an isolated stack (own traefik project, network, ports; the service and the
management agent as host processes) and removes it afterwards.
"""
from __future__ import annotations

import argparse
import time

from _common import ROOT, first_200, save, summary  # noqa: F401  (ROOT puts the checkout on sys.path)

from tests.agent.harness import agent_env
from tests.agent.packages import ROW, diabetes_package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with agent_env("bbfirst", agent_args=["--poll-sec", "0.1"]) as stack:
        package = stack.cli_json("packages", "register", str(diabetes_package(stack.home / "src" / "m")))["id"]
        samples, action_samples = [], []
        with stack.client() as client:
            for i in range(args.rounds):
                start = time.monotonic()
                answer = client.create_deployment(package, f"bench-{i}")
                dep = answer["deployment"]
                done = first_200(f"{stack.web}/deployments/{dep['id']}/predictions", ROW)
                samples.append(done - start)
                action = client.wait_for_action(answer["action"]["id"], timeout=300)
                action_samples.append(time.monotonic() - start)
                assert action["status"] == "done", action
                client.wait_for_action(client.stop_deployment(dep["id"])["action"]["id"], timeout=300)
    save("deploy_first_200", {"deployToFirst200Sec": summary(samples), "deployToActionDoneSec": summary(action_samples),
                              "goal_p50_sec": 3.0})


if __name__ == "__main__":
    main()
