"""The filtering Docker API proxy against the real engine: each consumer gets exactly its calls, nothing rides along."""
from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bosun_local.docker_proxy.rules import policy_for
from bosun_local.docker_proxy.server import parse_head
from tests.support.docker_proxy import running_proxy


def call(sock_path: Path, method: str, path: str, body: object | None = None) -> tuple[int, Any]:
    """Send one request with an ordinary HTTP client; return the status and the JSON answer."""
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock_path)), base_url="http://docker",
                      timeout=20) as client:
        response = client.request(method, path, json=body)
    return response.status_code, response.json()


def raw_call(sock_path: Path, method: str, path: str, body: object | None = None,
             extra: bytes = b"") -> tuple[int, str]:
    """Send one raw HTTP/1.1 request (plus any bytes after it) and return the status and everything read."""
    data = b"" if body is None else json.dumps(body).encode()
    head = (f"{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode()
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(20)
        conn.connect(str(sock_path))
        conn.sendall(head + data + extra)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    text = b"".join(chunks).decode(errors="replace")
    return (int(text.split(" ", 2)[1]) if text else 0), text  # 0: closed without an answer


@pytest.fixture(scope="module")
def sockets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    with running_proxy(tmp_path_factory.mktemp("proxy")) as paths:
        yield paths


def test_parse_head_refuses_what_is_not_http() -> None:
    assert parse_head(b"GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: x\r\n\r\n").path == "/v1.41/containers/json"
    with pytest.raises(ValueError):
        parse_head(b"GET containers HTTP/1.1\r\n\r\n")
    with pytest.raises(ValueError):
        parse_head(b"GET /x HTTP/2\r\n\r\n")


def test_the_policies_on_paper() -> None:
    traefik, agent = policy_for("traefik"), policy_for("agent", ("/data",))
    assert traefik.allows("GET", "/v1.24/containers/json") and traefik.allows("GET", "/v1.41/events")
    assert traefik.allows("GET", "/containers/abc123/json") and traefik.allows("HEAD", "/_ping")
    for method, path in (("POST", "/v1.41/networks/create"), ("POST", "/containers/create"),
                         ("POST", "/containers/x/exec"), ("DELETE", "/containers/x"), ("POST", "/build"),
                         ("GET", "/containers/x/logs"), ("POST", "/images/create"), ("GET", "/secrets")):
        assert not traefik.allows(method, path), (method, path)
    assert agent.allows("POST", "/v1.41/containers/create") and agent.allows("POST", "/exec/ab/start")
    assert agent.allows("GET", "/v1.41/images/bosun-local/runtime:security/json")
    for method, path in (("POST", "/networks/create"), ("POST", "/volumes/create"), ("POST", "/build"),
                         ("POST", "/images/create"), ("POST", "/swarm/init"), ("POST", "/plugins/pull"),
                         ("GET", "/containers/x/archive"), ("PUT", "/containers/x/archive")):
        assert not agent.allows(method, path), (method, path)
    ok = {"Labels": {"io.bosun-local.deployment": "d"}, "HostConfig": {"Binds": ["/data/packages/p:/p:ro"]}}
    assert agent.refuse_body("/containers/create", json.dumps(ok).encode()) is None
    bad = [{"HostConfig": {}},
           {**ok, "HostConfig": {"Privileged": True}},
           {**ok, "HostConfig": {"CapAdd": ["SYS_ADMIN"]}},
           {**ok, "HostConfig": {"NetworkMode": "host"}},
           {**ok, "HostConfig": {"PidMode": "host"}},
           {**ok, "HostConfig": {"Binds": ["/:/host"]}},
           {**ok, "HostConfig": {"Binds": ["/data/../etc:/etc2"]}},
           {**ok, "HostConfig": {"Mounts": [{"Type": "bind", "Source": "/var/run/docker.sock"}]}},
           {**ok, "HostConfig": {"SecurityOpt": ["seccomp=unconfined"]}},
           {**ok, "HostConfig": {"Devices": [{"PathOnHost": "/dev/sda"}]}}]
    for doc in bad:
        assert agent.refuse_body("/containers/create", json.dumps(doc).encode()), doc
    assert agent.refuse_body("/containers/x/exec", b'{"Cmd": ["touch", "/tmp/drain"]}') is None
    assert agent.refuse_body("/containers/x/exec", b'{"User": "root", "Cmd": ["sh"]}')
    assert agent.refuse_body("/containers/x/exec", b'{"Privileged": true, "Cmd": ["sh"]}')


@pytest.mark.docker
def test_traefik_reads_and_cannot_write(sockets: dict[str, Path]) -> None:
    status, found = call(sockets["traefik"], "GET", "/containers/json")
    assert status == 200 and isinstance(found, list), found
    status, found = call(sockets["traefik"], "POST", "/v1.41/networks/create", {"Name": "bosun-proxy-escape"})
    assert status == 403 and "not allowed for traefik" in found["message"]
    status, _ = raw_call(sockets["traefik"], "GET", "/v1.41/containers/..%2F..%2Fnetworks/json")
    assert status == 403
    # A second request pipelined behind an allowed one never reaches the engine (Connection: close).
    smuggled = (b"POST /networks/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
                b"Content-Length: 29\r\n\r\n{\"Name\": \"bosun-proxy-escape\"}")
    status, text = raw_call(sockets["traefik"], "GET", "/_ping", extra=smuggled)
    # The proxy forwards exactly the allowed request (its Content-Length) and drops what follows: one answer.
    assert status == 200 and text.count("HTTP/1.1") == 1, text
    names = subprocess.run(["docker", "network", "ls", "--format", "{{.Name}}"], capture_output=True, text=True,
                           check=True, timeout=60).stdout.split()
    assert "bosun-proxy-escape" not in names


@pytest.mark.docker
def test_a_chunked_body_is_forwarded_exactly_and_nothing_after_it(sockets: dict[str, Path]) -> None:
    name = f"bosun-proxy-chunked-{os.getpid()}"
    host = ["docker"]
    subprocess.run([*host, "network", "create", name], check=True, capture_output=True, timeout=60)
    try:
        subprocess.run([*host, "create", "--name", name, "--label", "io.bosun-local.managed=true",
                        "bosun-local/base:bookworm", "true"], check=True, capture_output=True, timeout=60)
        doc = json.dumps({"Container": name}).encode()
        chunks = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (doc[:7], doc[7:])) + b"0\r\n\r\n"
        smuggled = (b"POST /networks/create HTTP/1.1\r\nHost: docker\r\nContent-Length: 29\r\n\r\n"
                    b"{\"Name\": \"bosun-proxy-escape\"}")
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(20)
            conn.connect(str(sockets["agent"]))
            conn.sendall(f"POST /v1.41/networks/{name}/connect HTTP/1.1\r\nHost: docker\r\nContent-Type: "
                         f"application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode() + chunks + smuggled)
            text = b"".join(iter(lambda: conn.recv(65536), b"")).decode(errors="replace")
        assert text.startswith("HTTP/1.1 200") and text.count("HTTP/1.1") == 1, text
        inspect = subprocess.run([*host, "inspect", "--format", "{{json .NetworkSettings.Networks}}", name],
                                 check=True, capture_output=True, text=True, timeout=60).stdout
        assert name in json.loads(inspect)
        names = subprocess.run([*host, "network", "ls", "--format", "{{.Name}}"], capture_output=True, text=True,
                               check=True, timeout=60).stdout.split()
        assert "bosun-proxy-escape" not in names
        # A body whose length cannot be known exactly is refused before it reaches the engine.
        status, answer = raw_call(sockets["agent"], "POST", f"/v1.41/containers/{name}/start",
                                  extra=b"")  # plain request works through the same path
        assert status in (204, 304), answer
        bad = (f"POST /v1.41/containers/{name}/stop HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n"
               f"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n").encode()
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(20)
            conn.connect(str(sockets["agent"]))
            conn.sendall(bad)
            text = b"".join(iter(lambda: conn.recv(65536), b"")).decode(errors="replace")
        assert text.startswith("HTTP/1.1 400") and "both Content-Length and Transfer-Encoding" in text, text
    finally:
        subprocess.run([*host, "rm", "-f", name], capture_output=True, timeout=60)
        subprocess.run([*host, "network", "rm", name], capture_output=True, timeout=60)


@pytest.mark.docker
def test_the_docker_cli_through_the_agent_socket(sockets: dict[str, Path], tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{sockets['agent']}"}

    def docker(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=120)

    assert docker("ps").returncode == 0
    refused = docker("network", "create", "bosun-proxy-escape")
    assert refused.returncode != 0 and "not allowed for agent" in refused.stderr
    refused = docker("run", "--rm", "--label", "io.bosun-local.managed=true", "-v", "/:/host",
                     "bosun-local/base:bookworm", "true")
    assert refused.returncode != 0 and "outside the allowed roots" in refused.stderr, refused.stderr
    refused = docker("run", "--rm", "--privileged", "--label", "io.bosun-local.managed=true",
                     "bosun-local/base:bookworm", "true")
    assert refused.returncode != 0 and "privileged" in refused.stderr
    data = sockets["agent"].parent.parent / "data"
    data.mkdir(exist_ok=True)
    name = f"bosun-proxy-test-{os.getpid()}"
    try:
        started = docker("run", "-d", "--name", name, "--label", "io.bosun-local.managed=true", "--cap-drop", "ALL",
                         "-v", f"{data}:/d:ro", "bosun-local/base:bookworm", "sleep", "60")
        assert started.returncode == 0, started.stderr
        assert docker("exec", name, "touch", "/tmp/drain").returncode == 0
        assert docker("exec", "-u", "root", name, "true").returncode != 0
        assert docker("logs", name).returncode == 0
    finally:
        assert docker("rm", "-f", name).returncode == 0
