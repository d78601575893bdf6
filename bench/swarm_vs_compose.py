"""Swarm vs Compose side by side: deploy -> first 200 through traefik, and model replacement, in one run.

Compose: the docker plugin on the host engine behind an isolated traefik (`bosun-local up --services traefik`).
Swarm: the swarm plugin on a two-node swarm made here (tests/support/swarm_nodes.py), traefik's swarm provider on
the manager; the deployment runs 1 replica (the same work as Compose) and then 2 (spread over both nodes).
Both plugins run in this process, as the management agent runs built-ins. Prints the swarm/compose ratios.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import first_200, save, summary

from bosun_local.agent.plugin_facts import plugin_facts
from bosun_local.config import load_config
from bosun_local.plugins.docker import DockerPlugin
from bosun_local.plugins.framework.action_status import ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase
from bosun_local.plugins.framework.deployment_info import DeploymentInfo
from bosun_local.plugins.swarm import SwarmPlugin
from tests.agent.packages import ROW, diabetes_package
from tests.conftest import write_test_config
from tests.support.stack import BIN, world_readable_home
from tests.support.swarm_nodes import swarm_nodes

MODEL_A, MODEL_B = "aaaaaaaaaaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaaaaaaaaaa2"


def info(dep_id: str, model: str, artifact: Path, kv: dict[str, Any]) -> DeploymentInfo:
    return DeploymentInfo({"id": dep_id, "modelId": model, "name": "bench", "modelArtifact": str(artifact),
                           "modelExecutionType": "dedicated", "keyValueConfig": kv})


def checked(status: ActionStatusInfo, what: str) -> ActionStatusInfo:
    if status.status != ActionStatus.OK:
        raise SystemExit(f"{what} failed: {status.msg}")
    return status


def _start(plugin: BosunPluginBase, di: DeploymentInfo, result: list[ActionStatusInfo]) -> None:
    result.append(plugin.deployment_start(di))


def rounds(plugin: BosunPluginBase, web: str, pkgs: tuple[Path, Path], n: int, kv: dict[str, Any],
           tag: str) -> dict[str, list[float]]:
    """Deploy, time the first 200 and the action, replace, stop; n times with fresh deployment ids."""
    out: dict[str, list[float]] = {"first200": [], "startAction": [], "replace": []}
    for i in range(n):
        dep_id = f"bench{tag}{i:02d}".ljust(24, "0")
        result: list[ActionStatusInfo] = []
        start = time.monotonic()
        worker = threading.Thread(target=_start, args=(plugin, info(dep_id, MODEL_A, pkgs[0], kv), result))
        worker.start()
        out["first200"].append(first_200(f"{web}/deployments/{dep_id}/predictions", ROW) - start)
        worker.join()
        out["startAction"].append(time.monotonic() - start)
        checked(result[0], f"{tag} start")
        clock = time.monotonic()
        checked(plugin.deployment_replace_model(info(dep_id, MODEL_B, pkgs[1], kv)), f"{tag} replace")
        out["replace"].append(time.monotonic() - clock)
        checked(plugin.deployment_stop(dep_id), f"{tag} stop")
    return out


@contextmanager
def compose_env(pkgs_root: Path) -> Iterator[tuple[dict[str, Any], str]]:
    """Bring up an isolated traefik on the host engine; yield the docker plugin's config and traefik's URL."""
    name = f"bbswc{os.getpid() % 100000}"
    home = world_readable_home(f"{name}-")
    values = write_test_config(home, name, monitoringEnabled=False)
    env = {**os.environ, "BOSUN_HOME": str(home)}
    up = subprocess.run([str(BIN / "bosun-local"), "up", "--services", "traefik"], env=env, capture_output=True,
                        text=True, timeout=300)
    try:
        if up.returncode != 0:
            raise SystemExit(f"bosun-local up failed:\n{up.stdout}\n{up.stderr}")
        web = str(values["outfacingPredictionURLPrefix"])
        config = {**plugin_facts(load_config(home)), **{k: values[k] for k in (
            "dockerNetwork", "outfacingPredictionURLPrefix", "containerNamePrefix", "projectName")},
            "monitoringEnabled": False, "servingMode": "dedicated", "traefikUrl": web}
        yield config, web
    finally:
        subprocess.run([str(BIN / "bosun-local"), "down", "--volumes"], env=env, capture_output=True, timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = load_config()
    images = [str(config["ppsBaseImage"]), str(config["traefikImage"])]
    results: dict[str, dict[str, list[float]]] = {}
    with swarm_nodes("bbswarm", images) as swarm:
        pkgs = (diabetes_package(swarm.shared_dir / "pkg-a"), diabetes_package(swarm.shared_dir / "pkg-b", alpha=0.5))
        for path in pkgs:
            for f in [path, *path.iterdir()]:
                f.chmod(0o755 if f.is_dir() else 0o644)
        with compose_env(swarm.shared_dir) as (docker_config, web):
            results["compose"] = rounds(DockerPlugin(docker_config), web, pkgs, args.rounds, {}, "c")
        swarm_web = f"http://{swarm.manager.address}:80"
        plugin = SwarmPlugin({"swarmDockerHost": swarm.manager.host, "dockerNetwork": f"{swarm.name}-net",
                              "projectName": swarm.name, "containerNamePrefix": "swarm_",
                              "outfacingPredictionURLPrefix": swarm_web, "traefikUrl": swarm_web,
                              "monitoringEnabled": False, "stacksDir": str(swarm.shared_dir / "stacks"),
                              "runAsUser": "65534:65534", "ppsBaseImage": images[0], "traefikImage": images[1]})
        checked(plugin.plugin_start(), "swarm plugin_start")
        results["swarm1"] = rounds(plugin, swarm_web, pkgs, args.rounds, {"replicas": 1}, "s")
        results["swarm2"] = rounds(plugin, swarm_web, pkgs, args.rounds, {"replicas": 2}, "t")
    table = {side: {metric: summary(samples) for metric, samples in r.items()} for side, r in results.items()}
    ratios = {f"{side}/compose {metric} p50": round(table[side][metric]["p50"] / table["compose"][metric]["p50"], 2)
              for side in ("swarm1", "swarm2") for metric in table["compose"]}
    for metric in table["compose"]:
        print(f"{metric:12s} p50  compose {table['compose'][metric]['p50']:6.2f} s   swarm x1 "
              f"{table['swarm1'][metric]['p50']:6.2f} s   swarm x2 {table['swarm2'][metric]['p50']:6.2f} s")
    save("swarm_vs_compose", {"sec": table, "ratios": ratios, "rounds": args.rounds,
                              "load": os.getloadavg()[0]})


if __name__ == "__main__":
    main()
