"""One stack, attacked from a model package: what its code can read and reach in the sandbox and in its PPS.

A pickle that probes its surroundings on load is registered (the stack's agent loads it in a sandbox container;
the service never does) and deployed with a deployer token. From inside, it finds no token, secrets, database,
Docker socket or traefik API; the service and RabbitMQ refuse it; a record it forges for another deployment is
dead-lettered and counted; and the model it carries still serves.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bosun_local.client import ServiceClient
from bosun_local.config import load_config, load_defaults
from bosun_local.engine import adapter
from bosun_local.host import rabbitmq_url
from bosun_local.sandbox.package_check import sandbox_spec
from bosun_local.spool.rabbitmq.reader import read_dead_letters
from tests.agent.harness import BIN, until, world_readable_home
from tests.agent.packages import ROW
from tests.conftest import write_test_config
from tests.security.hostile import VICTIM, hostile_package, probe_of

pytestmark = pytest.mark.docker


class Stack:
    """A full environment stack (service and agents in containers) on its own project, network and ports."""

    def __init__(self, home: Path, name: str, values: dict[str, Any]) -> None:
        self.home = home
        self.name = name
        self.values = values
        self.env = {**os.environ, "BOSUN_HOME": str(home)}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "bosun-local"), *args], env=self.env, capture_output=True, text=True,
                              timeout=600)

    def token(self, name: str, scope: str) -> str:
        result = self.cli("tokens", "create", "--name", name, "--scope", scope, "--json")
        assert result.returncode == 0, result.stderr
        return str(json.loads(result.stdout)["token"])

    def client(self, token: str) -> ServiceClient:
        return ServiceClient(url=str(self.values["serviceUrl"]), token=token, timeout=60)

    def container(self, component: str) -> str:
        (name,) = [c.name for c in adapter.containers_with_labels(
            {"com.docker.compose.project": self.name, "io.bosun-local.component": component})]
        return name


@pytest.fixture(scope="module")
def stack(stack_images: None) -> Iterator[Stack]:
    name = f"bsec{os.getpid() % 100000}"
    home = world_readable_home(f"{name}-")
    image = os.environ.get("BOSUN_AGENT_IMAGE") or load_defaults()["agentImage"]
    values = write_test_config(home, name, monitoringEnabled=True, agentImage=image, waitTimeoutSec=900,
                               ppsBaseImage=os.environ.get("BOSUN_PPS_BASE_IMAGE") or image)
    stack = Stack(home, name, values)
    try:
        up = stack.cli("up", "--wait")
        assert up.returncode == 0, f"bosun-local up failed:\n{up.stdout}\n{up.stderr}"
        yield stack
    finally:
        stack.cli("down", "--volumes")


def _inspect(name: str) -> dict[str, Any]:
    out = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True, timeout=60)
    return dict(json.loads(out.stdout)[0])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "-"


def test_a_hostile_package_finds_nothing_and_still_serves(stack: Stack, tmp_path: Path) -> None:
    home = stack.home
    secrets = yaml.safe_load((home / "secrets.yml").read_text())
    before = {name: _digest(home / name) for name in ("token", "secrets.yml", "tokens.json")}
    deployer = stack.client(stack.token("ci", "deployer"))
    admin = stack.client((home / "token").read_text().strip())
    package_dir = hostile_package(tmp_path / "hostile", home, secrets["rabbitmqPassword"])
    package = deployer.register_package(package_dir, name="hostile")

    # The stack's agent loads it in a sandbox container; the service only validates what came back.
    checked = until("the sandboxed package check", lambda: (p := admin.get_package(package["id"]))["check"][
        "status"] in ("ok", "failed") and p, 300, every=2.0)
    assert checked["check"]["status"] == "ok", checked["check"]
    assert admin.package_baseline(package["id"])["prediction"]["source"] == "model"
    assert "HOSTILE-PROBE" not in adapter.container_logs(stack.container("service"), tail=2000)

    # The same sandbox, run here to read what the payload saw inside it and how the container was made.
    config = load_config(home)
    run = adapter.run_sandbox(sandbox_spec(config, {"packageId": package["id"], "path": checked["path"],
                                                    "trainingData": "training.csv"}, 120))
    inside = probe_of(run.output)
    assert inside is not None, run.output
    assert inside["uid"] == 65534 and inside["docker.sock"] is False
    assert all(inside[f"file:{n}"] == "FileNotFoundError" for n in ("token", "tokens.json", "secrets.yml",
                                                                      "bosun.db")), inside
    assert inside["file:/etc/shadow"] == "PermissionError"
    assert inside["service"] == inside["traefik_api"] == "URLError"  # no network at all
    assert inside["write_package"] == "OSError", inside  # EROFS: mounted read-only
    hc = run.host_config
    assert hc["NetworkMode"] == "none" and hc["ReadonlyRootfs"] is True and hc["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in hc["SecurityOpt"] and hc["Memory"] == 1 << 30 and hc["NanoCpus"] == 10 ** 9
    assert [b.split(":")[1:] for b in hc["Binds"]] == [["/package", "ro"]]

    # Deployed with the deployer's token: the PPS loads it (the only place besides the sandbox).
    dep = deployer.create_deployment(package=package["id"], name="hostile")
    dep = dep.get("deployment", dep)
    ready = until("the hostile deployment", lambda: (d := admin.get_deployment(dep["id"]))["state"] == "ready"
                  and d, 300, every=2.0)
    (pps,) = [c.name for c in adapter.containers_with_labels({"io.bosun-local.deployment": dep["id"]})]
    seen = until("the probe's report in the PPS log", lambda: probe_of(adapter.container_logs(pps, tail=500)),
                 120, every=2.0)
    assert seen["where"] == dep["id"] and seen["uid"] != 0 and seen["docker.sock"] is False
    assert all(seen[f"file:{n}"] == "FileNotFoundError" for n in ("token", "tokens.json", "secrets.yml",
                                                                  "bosun.db")), seen
    assert seen["service"] == 401  # reachable on the network, refused without a token
    assert seen["traefik_api"] == "URLError"  # the API listens on traefik's loopback only
    assert seen["mq_user"] == f"pps-{dep['id']}" and seen["mq_admin_password"] is False
    assert seen["mq_queues"] == 401  # no management rights: no queue listing
    assert seen["mq_read"].endswith(":403") and seen["mq_default_exchange"].endswith(":403")
    assert seen["mq_other_routing_key"].endswith(":403")
    assert seen["forged_sent"] is True  # the broker took it (its own routing key) ...
    # ... and the monitoring agent dead-lettered it as forged, and counted it.
    dead = until("the forged record in the dead letters", lambda: [
        reason for _body, reason in read_dead_letters(rabbitmq_url(config, host_side=True)) if VICTIM in reason],
        120, every=2.0)
    assert "rejected as forged" in dead[0]
    rejected = until("the monitoring agent's rejection count", lambda: sum(
        int((a.get("data") or {}).get("rejected", 0)) for a in admin.list_agents()
        if a.get("kind") == "monitoring") or None, 120, every=2.0)
    assert rejected >= 1

    # Its own figures still count, and the model it carries serves.
    response = httpx.post(ready["predictionUrl"], json=[ROW], timeout=30)
    assert response.status_code == 200, response.text

    # docker inspect: non-root, no capabilities, read-only, only its package mounted (read-only).
    doc = _inspect(pps)
    host = doc["HostConfig"]
    assert doc["Config"]["User"] not in ("", "0", "root") and host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and any("no-new-privileges" in o for o in host["SecurityOpt"])
    mounts = [(m["Source"], m["RW"]) for m in doc["Mounts"]]
    assert mounts == [(checked["path"], False)], mounts
    assert not [e for e in doc["Config"]["Env"] if secrets["rabbitmqPassword"] in e]
    compose = (home / "stacks" / f"{stack.values['containerNamePrefix']}{dep['id']}" / "compose.yaml").read_text()
    assert "amqp://" not in compose and secrets["rabbitmqPassword"] not in compose
    for component in ("management-agent", "monitoring-agent"):
        agent = _inspect(stack.container(component))
        hidden = {m["Destination"] for m in agent["Mounts"] if m["Source"] == "/dev/null"}
        assert {str(home / "token"), str(home / "bosun.db"), str(home / "secrets.yml")} <= hidden
        assert not [e for e in agent["Config"]["Env"] if "rabbitmqPassword" in e]

    # Nothing of the host changed (tokens.json gained only the token this test made).
    assert {n: _digest(home / n) for n in before if n != "tokens.json"} == {
        n: d for n, d in before.items() if n != "tokens.json"}
    assert not (Path(checked["path"]) / "planted").exists() and seen["write_package"] == "OSError"
