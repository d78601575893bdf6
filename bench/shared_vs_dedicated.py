"""Shared pool vs dedicated containers, side by side in one stack (issue 18), through the service, agent and traefik.

Measures: deploy -> first 200 (shared and dedicated), replacement duration and failed requests under load (both
modes), and total container memory of N shared vs N dedicated deployments. Each figure carries the load average
seen while it was measured (the bench host is shared). Isolated stack, removed afterwards.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from _common import ROOT, PredictionLoad, first_200, save  # noqa: F401  (ROOT puts the checkout on sys.path)

from bosun_local.contracts import labels
from bosun_local.engine import adapter
from tests.agent.harness import AgentEnv, agent_env
from tests.agent.packages import ROW, diabetes_package


def pct(samples: list[float]) -> dict[str, float]:
    """Return p50 / p99 / max / n of samples (seconds)."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 3), "p99": round(p99, 3), "max": round(ordered[-1], 3),
            "n": len(ordered)}


def load_avg() -> list[float]:
    return [round(x, 1) for x in os.getloadavg()]


def note(result: dict[str, Any]) -> None:
    """Print the figures so far: a long run stopped midway still shows what it measured."""
    print(json.dumps(result), flush=True)


def deploy_first_200(stack: AgentEnv, package: str, name: str, kv: dict[str, Any]) -> tuple[str, float]:
    with stack.client() as client:
        start = time.monotonic()
        answer = client.create_deployment(package, name, key_value_config=kv)
        dep_id = answer["deployment"]["id"]
        took = first_200(f"{stack.web}/deployments/{dep_id}/predictions", ROW, timeout=600.0, poll_sec=0.01) - start
        action = client.wait_for_action(answer["action"]["id"], timeout=600)
    assert action["status"] == "done", action
    return dep_id, took


def replacements(stack: AgentEnv, dep_id: str, packages: list[str], count: int) -> dict[str, Any]:
    """Replace the deployment's model `count` times while two clients loop; return durations and failures."""
    durations = []
    phases: dict[str, list[float]] = {}
    loads = [load_avg()]
    with PredictionLoad(f"{stack.web}/deployments/{dep_id}/predictions", [ROW]) as load, stack.client() as client:
        for i in range(count):
            start = time.monotonic()
            action = client.wait_for_action(client.replace_model(dep_id, packages[(i + 1) % 2])["action"]["id"],
                                            timeout=600)
            assert action["status"] == "done", action
            durations.append(time.monotonic() - start)
            loads.append(load_avg())
            for step, sec in (((action.get("result") or {}).get("data") or {}).get("phasesSec") or {}).items():
                phases.setdefault(step, []).append(sec)
    return {"durationSec": pct(durations), "requestsOk": sum(load.ok), "failedRequests": len(load.failures),
            "failures": load.failures[:5], "loadAvg1m": [x[0] for x in loads],
            "phasesSecP50": {step: round(statistics.median(v), 2) for step, v in phases.items()},
            # Every other PPS container probes twice a second (an exec each): the host this replacement shares.
            "otherPpsContainers": len([c for c in adapter.containers_with_labels(
                {labels.NETWORK: stack.name}) if c.status == "running"]) - 1}


def deploy_many(stack: AgentEnv, package: str, prefix: str, count: int, kv: dict[str, Any]) -> list[str]:
    with stack.client() as client:
        answers = [client.create_deployment(package, f"{prefix}-{i}", key_value_config=kv) for i in range(count)]
        with ThreadPoolExecutor(8) as pool:
            done = list(pool.map(lambda a: client.wait_for_action(a["action"]["id"], timeout=1800), answers))
    bad = [a for a in done if a["status"] != "done"]
    assert not bad, bad[:2]
    ids = [a["deployment"]["id"] for a in answers]
    with httpx.Client(timeout=30) as http:  # every deployment answered once: its model is loaded and warm
        for dep_id in ids:
            assert http.post(f"{stack.web}/deployments/{dep_id}/predictions", json=[ROW]).status_code == 200
    return ids


def memory_mb(names: list[str]) -> float:
    return round(sum(adapter.container_memory(names).values()) / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10, help="deploy -> first 200 samples per mode")
    parser.add_argument("--replacements", type=int, default=6)
    parser.add_argument("--count", type=int, default=50, help="deployments per mode for the memory figure")
    parser.add_argument("--shared-only", action="store_true", help="skip the dedicated figures (a loaded host)")
    args = parser.parse_args()
    result: dict[str, Any] = {"host": {"cpus": os.cpu_count()}}
    with agent_env("bbshared", agent_args=["--poll-sec", "0.05", "--concurrency", "8"], servingMode="shared") as stack:
        try:
            packages = [stack.cli_json("packages", "register", str(diabetes_package(
                stack.home / "src" / f"m{i}", alpha=None if i == 0 else 1.0)))["id"] for i in range(2)]
            # Shared first: the pool is warm (the agent's plugin_start), each deploy is a dir write.
            deadline = time.monotonic() + 600
            while len([c for c in adapter.containers_with_labels({labels.COMPONENT: labels.PPS_POOL,
                                                                   labels.NETWORK: stack.name}) if c.healthy]) < 2:
                assert time.monotonic() < deadline, "the shared pool did not become healthy"
                time.sleep(0.5)
            before = load_avg()
            shared = [deploy_first_200(stack, packages[0], f"s-first-{i}", {}) for i in range(args.rounds)]
            result["sharedDeployToFirst200Sec"] = {**pct([t for _, t in shared]), "loadAvgBefore": before,
                                                   "loadAvgAfter": load_avg(), "goal": {"p50": 1.0, "p99": 2.0}}
            result["sharedReplacement"] = {**replacements(stack, shared[0][0], packages, args.replacements),
                                           "goal": {"p50": 1.0, "failed": 0}}
            note(result)
            if args.shared_only:
                deploy_many(stack, packages[0], "s-mem", args.count - len(shared), {})
                pool = [c.name for c in adapter.containers_with_labels({labels.COMPONENT: labels.PPS_POOL,
                                                                        labels.NETWORK: stack.name}) if c.healthy]
                result["memory"] = {"deploymentsShared": args.count, "sharedPoolReplicas": len(pool),
                                    "sharedTotalMB": memory_mb(pool), "loadAvg": load_avg()}
                return
            before = load_avg()
            dedicated = [deploy_first_200(stack, packages[0], f"d-first-{i}", {"serving": "dedicated"})
                         for i in range(min(args.rounds, 5))]
            result["dedicatedDeployToFirst200Sec"] = {**pct([t for _, t in dedicated]), "loadAvgBefore": before,
                                                      "loadAvgAfter": load_avg(), "goal": {"p50": 3.0}}
            result["dedicatedReplacement"] = {**replacements(stack, dedicated[0][0], packages, args.replacements),
                                              "goal": {"p50": 5.0, "failed": 0}}
            note(result)
            # Memory, same run: count shared vs count dedicated deployments.
            deploy_many(stack, packages[0], "s-mem", args.count - len(shared), {})
            pool = [c.name for c in adapter.containers_with_labels({labels.COMPONENT: labels.PPS_POOL,
                                                                    labels.NETWORK: stack.name}) if c.healthy]
            shared_mb = memory_mb(pool)
            deploy_many(stack, packages[0], "d-mem", args.count - len(dedicated), {"serving": "dedicated"})
            dedicated_names = [c.name for c in stack.containers() if c.status == "running"]
            dedicated_mb = memory_mb(dedicated_names)
            result["memory"] = {"deploymentsPerMode": args.count, "sharedPoolReplicas": len(pool),
                                "sharedTotalMB": shared_mb, "dedicatedContainers": len(dedicated_names),
                                "dedicatedTotalMB": dedicated_mb,
                                "ratio": round(dedicated_mb / shared_mb, 1) if shared_mb else None,
                                "loadAvg": load_avg(), "goal": {"sharedTotalMB": 1536}}
        finally:
            stack.stop_agent()
            adapter.remove_containers([c.name for c in adapter.containers_with_labels(
                {labels.COMPONENT: labels.PPS_POOL, labels.NETWORK: stack.name})], timeout=2)
            save("shared_vs_dedicated", result)


if __name__ == "__main__":
    main()
