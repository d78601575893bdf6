"""Failed requests across model replacements under load: N blue/green replacements while a client loops.

Goal (issue 6): 0 failed requests. Isolated stack (own traefik, network, ports), removed afterwards.
"""
from __future__ import annotations

import argparse
import threading
import time

import httpx
from _common import ROOT, save, summary  # noqa: F401  (ROOT puts the checkout on sys.path)

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
        url = f"{stack.web}/deployments/{dep['id']}/predictions"
        stop = threading.Event()
        ok = [0] * args.clients
        failures: list[str] = []

        def load(slot: int) -> None:
            with httpx.Client(timeout=30) as http:
                while not stop.is_set():
                    try:
                        response = http.post(url, json=[ROW])
                        if response.status_code == 200:
                            ok[slot] += 1
                        else:
                            failures.append(f"HTTP {response.status_code} {response.text[:100]}")
                    except httpx.HTTPError as exc:
                        failures.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(args.clients)]
        for t in threads:
            t.start()
        durations = []
        try:
            with stack.client() as client:
                for i in range(args.replacements):
                    start = time.monotonic()
                    answer = client.replace_model(dep["id"], packages[(i + 1) % 2])
                    action = client.wait_for_action(answer["action"]["id"], timeout=600)
                    assert action["status"] == "done", action
                    durations.append(time.monotonic() - start)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
    save("deploy_replacements", {"replacements": args.replacements, "requests": sum(ok) + len(failures),
                                 "failedRequests": len(failures), "failureSamples": failures[:5],
                                 "replacementSec": summary(durations), "goal_failed": 0})


if __name__ == "__main__":
    main()
