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


POOL_PUBLISH = r'''
import json, os, sys, pika
url, ids = os.environ["MLOPS_RABBITMQ_QUEUE_URL"], sys.argv[1:]
out = {"user": pika.URLParameters(url).credentials.username}
for key in ids:
    try:
        conn = pika.BlockingConnection(pika.URLParameters(url))
        chan = conn.channel()
        chan.confirm_delivery()
        chan.basic_publish("bosun.pps", key, b"{}")
        conn.close()
        out[key] = "OK"
    except Exception as exc:
        out[key] = type(exc).__name__ + ":" + str(getattr(exc, "reply_code", ""))
print(json.dumps(out))
'''


def _pool_publish(container: str, *routing_keys: str) -> dict[str, str]:
    out = adapter.exec_in_container(container, ["python", "-c", POOL_PUBLISH, *routing_keys])
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_the_shared_pool_publishes_only_for_the_deployments_it_serves(stack: Stack, tmp_path: Path) -> None:
    from tests.agent.packages import diabetes_package

    home = stack.home
    secrets = yaml.safe_load((home / "secrets.yml").read_text())
    deployer = stack.client(stack.token("pool-deployer", "deployer"))
    admin = stack.client((home / "token").read_text().strip())
    package = deployer.register_package(diabetes_package(tmp_path / "pkg"), name="pooled")
    dep = deployer.create_deployment(package=package["id"], name="pooled", key_value_config={"serving": "shared"})
    dep = dep.get("deployment", dep)
    ready = until("the shared deployment", lambda: (d := admin.get_deployment(dep["id"]))["state"] == "ready"
                  and d, 300, every=2.0)
    (replica, *_) = [c.name for c in adapter.containers_with_labels(
        {"io.bosun-local.component": "pps-pool", "io.bosun-local.network": stack.values["dockerNetwork"]})]

    # docker inspect: the pool runs model code too, so it is held like a dedicated PPS.
    doc = _inspect(replica)
    host = doc["HostConfig"]
    assert doc["Config"]["User"] not in ("", "0", "root") and host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and any("no-new-privileges" in o for o in host["SecurityOpt"])
    assert [m["RW"] for m in doc["Mounts"]] == [False]
    assert not [e for e in doc["Config"]["Env"] if secrets["rabbitmqPassword"] in e]
    pool_dir = home / "stacks" / f"{stack.values['containerNamePrefix']}shared-pool"
    assert "amqp://" not in (pool_dir / "compose.yaml").read_text()
    assert (pool_dir / "pps.env").stat().st_mode & 0o077 == 0

    # Its own user may publish for the deployments it serves, never for another one or as the queue itself.
    seen = _pool_publish(replica, dep["id"], VICTIM)
    assert seen["user"].startswith("pool-") and seen[dep["id"]] == "OK", seen
    assert seen[VICTIM].endswith(":403"), seen

    # Its records count, published under its own user with the deployment's id as routing key.
    for _ in range(5):
        assert httpx.post(ready["predictionUrl"], json=[ROW], timeout=30).status_code == 200
    until("the shared deployment's predictions", lambda: admin.stats(dep["id"])["predictions"] >= 5, 120, every=2.0)

    # Stopped, the deployment is no longer the pool's to report for.
    stopped = admin.wait_for_action(admin.stop_deployment(dep["id"])["action"]["id"], timeout=120)
    assert stopped["status"] == "done", stopped
    assert _pool_publish(replica, dep["id"])[dep["id"]].endswith(":403")


INSIDE = r'''
import json, os, socket, sys
out = {"uid": os.getuid()}
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
out["CapEff"], out["NoNewPrivs"] = status["CapEff"].strip(), status["NoNewPrivs"].strip()
for path in ("/var/run/docker.sock", "/run/bosun-docker/docker.sock"):
    out[path] = os.path.exists(path)
for host, port in (("traefik", 80), ("traefik", 8080), ("service", 8765), ("rabbitmq", 5672), ("rabbitmq", 15672)):
    try:
        socket.create_connection((host, port), timeout=2).close()
        out[f"{host}:{port}"] = "open"
    except Exception as exc:
        out[f"{host}:{port}"] = type(exc).__name__
def api(sock, method, path, body=b""):
    conn = socket.socket(socket.AF_UNIX)
    conn.settimeout(10)
    conn.connect(sock)
    conn.sendall(f"{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    head = conn.recv(4096).decode(errors="replace")
    conn.close()
    return int(head.split(" ", 2)[1])
for sock in sys.argv[1:]:
    out[sock + " GET /containers/json"] = api(sock, "GET", "/v1.41/containers/json")
    out[sock + " POST /networks/create"] = api(sock, "POST", "/v1.41/networks/create", b'{"Name": "bosun-escape"}')
    out[sock + " POST /containers/create privileged"] = api(
        sock, "POST", "/v1.41/containers/create",
        b'{"Image": "x", "Labels": {"io.bosun-local.managed": "true"}, "HostConfig": {"Privileged": true}}')
print(json.dumps(out))
'''


def _inside(container: str, *sockets: str) -> dict[str, Any]:
    out = adapter.exec_in_container(container, ["python", "-c", INSIDE, *sockets])
    return dict(json.loads(out.strip().splitlines()[-1]))


def _processes(container: str) -> list[dict[str, str]]:
    """Return the Name, Uid, CapEff, CapBnd and NoNewPrivs of every process of a container, read on the host."""
    top = subprocess.run(["docker", "top", container, "-eo", "pid"], capture_output=True, text=True, check=True,
                         timeout=60).stdout.split()[1:]
    found = []
    for pid in top:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except FileNotFoundError:
            continue  # ended since (a healthcheck probe)
        status = {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}
        found.append({k: status[k] for k in ("Name", "Uid", "CapEff", "CapBnd", "NoNewPrivs")})
    return found


def test_every_container_of_the_stack_is_held_to_what_it_needs(stack: Stack) -> None:
    run_as = str(stack.home.stat().st_uid) if stack.home.stat().st_uid else "10001"
    names = {c: stack.container(c) for c in ("docker-proxy", "watchdog", "traefik", "rabbitmq", "service",
                                             "management-agent", "monitoring-agent")}
    (pps, *_) = [c.name for c in adapter.containers_with_labels(
        {"io.bosun-local.deployment": None, "io.bosun-local.network": stack.values["dockerNetwork"]})]
    docs = {c: _inspect(n) for c, n in {**names, "pps": pps}.items()}
    for component, doc in docs.items():
        host = doc["HostConfig"]
        assert host["CapDrop"] == ["ALL"], component
        assert any("no-new-privileges" in o for o in host["SecurityOpt"] or []), component
        assert not host["Privileged"] and not host.get("CapAdd") or component == "rabbitmq", component
        for bindings in (host.get("PortBindings") or {}).values():
            assert all(b["HostIp"] == "127.0.0.1" for b in bindings), (component, bindings)
        # The engine's socket: the proxy, and the watchdog that starts the proxy again (no network, no input).
        sockets = [m for m in doc["Mounts"] if m.get("Source") == "/var/run/docker.sock"]
        assert bool(sockets) == (component in ("docker-proxy", "watchdog")), component
        # Every process: the stack's user, no effective capability. RabbitMQ: its entrypoint drops to the rabbitmq
        # user before it execs the broker; only the healthcheck's TCP probe runs as the image's user, root, with
        # the five capabilities the container keeps.
        procs = _processes(names.get(component, pps))
        for proc in procs:
            if proc["Name"].startswith("runc:["):
                continue  # a healthcheck exec caught while runc sets it up: seen as its probe on other reads
            if component == "rabbitmq" and proc["Uid"].split()[0] == "0":
                assert proc["Name"] == "bash" and int(proc["CapEff"], 16) & ~0xcb == 0, proc
                continue
            assert proc["Uid"].split()[0] != "0" and int(proc["CapEff"], 16) == 0, (component, proc)
            assert proc["NoNewPrivs"] == "1", (component, proc)
            if component != "rabbitmq":
                assert proc["Uid"].split()[0] == run_as and int(proc["CapBnd"], 16) == 0, (component, proc)
    broker = [p for p in _processes(names["rabbitmq"]) if p["Name"] == "beam.smp"]
    assert broker and all(p["Uid"].split()[0] != "0" and int(p["CapEff"], 16) == 0 for p in broker), broker
    assert set(docs["rabbitmq"]["HostConfig"]["CapAdd"]) == {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER",
                                                             "CAP_SETUID", "CAP_SETGID"} or set(
        docs["rabbitmq"]["HostConfig"]["CapAdd"]) == {"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID"}
    for component in ("docker-proxy", "watchdog", "traefik", "pps"):
        assert docs[component]["HostConfig"]["ReadonlyRootfs"] is True, component
    assert docs["docker-proxy"]["HostConfig"]["NetworkMode"] == docs["watchdog"]["HostConfig"]["NetworkMode"] == "none"
    volumes = {c: sorted(m["Name"].split("_", 1)[1] for m in d["Mounts"] if m["Type"] == "volume")
               for c, d in docs.items()}
    assert volumes["docker-proxy"] == ["docker-api-agent", "docker-api-traefik"]
    assert volumes["traefik"] == ["docker-api-traefik"] and volumes["management-agent"] == ["docker-api-agent"]
    assert not volumes["service"] and not volumes["monitoring-agent"] and not volumes["pps"] and not volumes["watchdog"]
    ro = {m["Destination"]: m["RW"] for m in docs["monitoring-agent"]["Mounts"]}
    assert ro[str(stack.home)] is False

    # From inside: sockets, endpoints, and what each Docker API socket allows.
    proxy_dir = "/run/bosun-docker-proxy"
    seen = {"docker-proxy": _inside(names["docker-proxy"], f"{proxy_dir}/traefik/docker.sock"),
            "management-agent": _inside(names["management-agent"], "/run/bosun-docker/docker.sock"),
            **{c: _inside(names.get(c, pps)) for c in ("service", "monitoring-agent", "pps")}}
    traefik_socket = f"{proxy_dir}/traefik/docker.sock"
    assert seen["docker-proxy"][f"{traefik_socket} GET /containers/json"] == 200
    assert seen["docker-proxy"][f"{traefik_socket} POST /networks/create"] == 403
    assert seen["docker-proxy"][f"{traefik_socket} POST /containers/create privileged"] == 403
    agent_socket = "/run/bosun-docker/docker.sock"
    assert seen["management-agent"][f"{agent_socket} GET /containers/json"] == 200
    assert seen["management-agent"][f"{agent_socket} POST /networks/create"] == 403
    assert seen["management-agent"][f"{agent_socket} POST /containers/create privileged"] == 403
    for component, inside in seen.items():
        assert inside["CapEff"] == "0000000000000000" and inside["NoNewPrivs"] == "1", component
        assert inside["/var/run/docker.sock"] is (component == "docker-proxy"), component
        assert inside["/run/bosun-docker/docker.sock"] is (component == "management-agent"), component
        if component == "docker-proxy":  # no network at all
            assert all(inside[k] != "open" for k in inside if k.count(":") == 1 and "/" not in k), inside
            continue
        assert inside["traefik:8080"] != "open", component  # traefik's API: its loopback only
        assert inside["traefik:80"] == "open" and inside["service:8765"] == "open", component
    # Nothing the stack did in this module (deploy, pool, sandbox, stop, traefik's watch) was refused: only our probes.
    refused = [line for line in adapter.container_logs(names["docker-proxy"], tail=5000).splitlines()
               if "refused for" in line]
    assert all("/networks/create" in line or "/containers/create" in line for line in refused), refused
