"""Read-only Docker Engine API calls over the local unix socket: one HTTP round trip instead of a CLI process.

The management agent reads container state every few seconds; a `docker` CLI process per read costs ~10-30 ms
of CPU (and a version negotiation through the docker proxy) where a request on a kept-open socket costs ~0.3 ms.
Only reads go here, and only when the CLI would talk to the same local socket (no remote host, no context):
everything else stays with python-on-whales in the adapter.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bosun_local.errors import EngineError

DEFAULT_SOCKET = "/var/run/docker.sock"
# The oldest API the engines we support speak (Docker 20.10); the proxy's rules accept any version prefix.
API_VERSION = "v1.41"

_local = threading.local()


def _context_in_use() -> bool:
    """Return True if the CLI would use a docker context other than the default one."""
    if os.environ.get("DOCKER_CONTEXT", "default") != "default":
        return True
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    try:
        current = json.loads(config.read_text()).get("currentContext") or "default"
    except (OSError, ValueError, AttributeError):
        return False
    return current != "default"


def local_socket() -> str | None:
    """Return the unix socket the CLI would use, or None when it would go elsewhere (tcp, ssh, a context)."""
    host = os.environ.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        return None
    if _context_in_use():
        return None
    path = host[len("unix://"):] if host else DEFAULT_SOCKET
    return path if Path(path).is_socket() else None


class _UnixConnection(http.client.HTTPConnection):
    """An HTTP/1.1 connection over a unix socket (http.client: a fifth of httpx's CPU per request)."""

    def __init__(self, socket_path: str) -> None:
        super().__init__("docker", timeout=30.0)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def _connection(socket_path: str) -> _UnixConnection:
    # One kept-open connection per thread and socket: http.client connections are not thread-safe.
    connections = _local.__dict__.setdefault("connections", {})
    if socket_path not in connections:
        connections[socket_path] = _UnixConnection(socket_path)
    return connections[socket_path]


def _request(socket_path: str, target: str) -> tuple[int, bytes]:
    for attempt in (1, 2):
        conn = _connection(socket_path)
        try:
            conn.request("GET", target)
            response = conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            conn.close()  # the engine (or proxy) closed a kept-open connection: reconnect once
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def get(socket_path: str, path: str, what: str, params: dict[str, str] | None = None) -> Any | None:
    """GET an Engine API path; return its JSON, or None on 404 (the object is gone)."""
    target = f"/{API_VERSION}{path}" + (f"?{urlencode(params)}" if params else "")
    try:
        status, body = _request(socket_path, target)
    except (OSError, http.client.HTTPException) as exc:
        raise EngineError(f"{what} failed: the Docker engine at unix://{socket_path} did not answer "
                          f"GET {path} ({type(exc).__name__}: {exc})",
                          fix="check that the engine runs (`bosun-local engine ensure`)") from exc
    if status == 404:
        return None
    if status >= 400:
        raise EngineError(f"{what} failed: GET {path} on unix://{socket_path} answered HTTP "
                          f"{status}: {body[:500].decode(errors='replace')}",
                          fix="read the engine's message above; a docker proxy names the rule that refused it")
    return json.loads(body)


def containers_by_filters(socket_path: str, filters: list[str], what: str) -> list[dict[str, Any]]:
    """Return the inspect documents of every container (any state) matching `label=...` filters."""
    labels = [f.removeprefix("label=") for f in filters]
    listed = get(socket_path, "/containers/json", what,
                 {"all": "1", "filters": json.dumps({"label": labels})}) or []
    docs = (get(socket_path, f"/containers/{c['Id']}/json", what) for c in listed)
    # A container removed between the list and its inspect is left out, as with `docker container inspect`.
    return [d for d in docs if d is not None]
