"""`bosun-local swarm up|status|down`: says what it changes, uses a swarm it finds, leaves only one it made."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx

from bosun_local.envstack.swarm_mode import MARKER
from tests.conftest import write_test_config
from tests.support.stack import BIN
from tests.support.swarm_nodes import SwarmNodes, swarm_nodes


def cli(home: Path, *args: str) -> dict[str, Any]:
    """Run a bosun-local command with --json against this data dir; return its JSON (it must succeed)."""
    proc = subprocess.run([str(BIN / "bosun-local"), *args, "--json"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "BOSUN_HOME": str(home)})
    assert proc.returncode == 0, f"bosun-local {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return dict(json.loads(proc.stdout))


def test_swarm_up_uses_the_swarm_it_finds_and_leaves_it_at_down(swarm: SwarmNodes, tmp_path: Path) -> None:
    manager = swarm.manager
    home = tmp_path / "home"
    write_test_config(home, f"{swarm.name}cli", dockerNetwork=f"{swarm.name}-cli",
                      outfacingPredictionURLPrefix=f"http://{manager.address}:8081")
    up = cli(home, "swarm", "up", "--host", manager.host, "--port", "8081", "--yes")
    assert up["status"] == "passing", up["msg"]
    assert "already manages" in up["changes"][0] and "overlay network" in up["changes"][1]
    # It says what runs where: only traefik (and the deployments) on the swarm.
    assert up["where"]["traefik"].startswith("the swarm") and "Compose" in up["where"][
        "service, RabbitMQ, management and monitoring agents"]
    assert httpx.get(f"http://{manager.address}:8081/", timeout=10).status_code == 404  # traefik, no route
    status = cli(home, "swarm", "status", "--host", manager.host)
    assert (status["platform"], status["status"], status["tasks"]) == ("swarm", "passing", [])
    assert sorted((n["role"], n["state"]) for n in status["nodes"]) == [("manager", "ready"), ("worker", "ready")]
    down = cli(home, "swarm", "down", "--host", manager.host)
    assert down["done"][0] == f"removed stack {swarm.name}cli-traefik"
    assert "alone: bosun-local did not create it" in down["done"][1]
    assert manager.engine().is_manager()
    manager.engine().remove_network(f"{swarm.name}-cli")


def test_swarm_up_inits_a_swarm_says_so_and_down_leaves_only_that_one(swarm_images: list[str],
                                                                       tmp_path: Path) -> None:
    with swarm_nodes("bosun-swarm-init", swarm_images[1:], workers=0, init=False) as bare:
        node = bare.manager
        home = tmp_path / "home"
        write_test_config(home, "swarminit", dockerNetwork="swarminit",
                          outfacingPredictionURLPrefix=f"http://{node.address}:80")
        assert node.engine().swarm_info()["LocalNodeState"] == "inactive"
        up = cli(home, "swarm", "up", "--host", node.host, "--advertise-addr", node.address, "--yes")
        assert up["changes"][0].startswith(f"run `docker swarm init --advertise-addr {node.address}`")
        assert "may lose name resolution" in up["changes"][0]
        assert up["status"] == "passing", up["msg"]
        assert node.engine().is_manager() and (home / MARKER).exists()
        node_id = node.engine().swarm_info()["NodeID"]
        down = cli(home, "swarm", "down", "--host", node.host)
        assert down["done"] == ["removed stack swarminit-traefik",
                                f"left the swarm bosun-local created on the engine at {node.host} (node {node_id})"]
        assert node.engine().swarm_info()["LocalNodeState"] == "inactive"
        assert not (home / MARKER).exists()
