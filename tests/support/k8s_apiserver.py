"""A recording HTTP server that answers the Kubernetes API calls the k8s plugin makes (no cluster is obtainable).

It is not a cluster: it stores what is applied, plays a Deployment controller that finishes (or stalls) rollouts,
and records every request, so tests can check the official client's calls and bodies. The real API server's
behaviour is not claimed beyond what is written here.
"""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.net import free_port

VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.4", "gitCommit": "0" * 40, "gitTreeState": "clean",
           "buildDate": "2024-08-14T19:29:29Z", "goVersion": "go1.22.5", "compiler": "gc", "platform": "linux/amd64"}
_PATH = re.compile(r"^/(?:api/v1|apis/apps/v1|apis/networking\.k8s\.io/v1)/namespaces/(?P<ns>[^/]+)"
                   r"(?:/(?P<plural>[a-z]+)(?:/(?P<name>[^/]+)(?P<status>/status)?)?)?$")
KINDS = {"deployments": "Deployment", "services": "Service", "ingresses": "Ingress", "secrets": "Secret"}


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any


@dataclass
class FakeApiServer:
    """State and recordings of the server; `stall` names Deployments whose rollouts never finish."""

    url: str = ""
    namespaces: set[str] = field(default_factory=lambda: {"default"})
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    stall: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, method: str | None = None) -> list[Recorded]:
        """Return the recorded requests (of one method)."""
        return [r for r in self.requests if method is None or r.method == method]

    def rollout(self, obj: dict[str, Any]) -> None:
        """Set a Deployment's status as its controller would: rolled out, or stalled past its deadline."""
        meta, spec = obj["metadata"], obj["spec"]
        want = spec.get("replicas", 1)
        if meta["name"] in self.stall:
            old = obj.get("status", {}).get("availableReplicas", 0)
            obj["status"] = {"observedGeneration": meta["generation"], "replicas": want + 1, "updatedReplicas": 1,
                             "availableReplicas": old, "unavailableReplicas": 1, "conditions": [
                                 {"type": "Available", "status": "True" if old else "False", "reason": "x"},
                                 {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                  "message": f'ReplicaSet "{meta["name"]}-new" has timed out progressing.'}]}
            return
        obj["status"] = {"observedGeneration": meta["generation"], "replicas": want, "updatedReplicas": want,
                         "readyReplicas": want, "availableReplicas": want, "conditions": [
                             {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                             {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}


def _handler(server: FakeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def _answer(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _missing(self, what: str) -> None:
            self._answer(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                               "code": 404, "message": f"{what} not found"})

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            with server.lock:
                server.requests.append(Recorded(self.command, parts.path, parse_qs(parts.query),
                                                self.headers.get("Content-Type", ""), body))
                self._route(parts.path, parse_qs(parts.query), body)

        def _route(self, path: str, query: dict[str, list[str]], body: Any) -> None:
            if path in ("/version", "/version/"):
                return self._answer(200, VERSION)
            match = re.match(r"^/api/v1/namespaces/([^/]+)$", path)
            if match:
                ns = match.group(1)
                if ns not in server.namespaces:
                    return self._missing(f'namespaces "{ns}"')
                return self._answer(200, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            match = _PATH.match(path)
            if not match or match["plural"] not in KINDS:
                return self._missing(path)
            ns, plural, name = match["ns"], match["plural"], match["name"]
            key = (plural, ns, name or "")
            if self.command == "GET" and not name:
                wanted = dict(p.split("=", 1) for p in (query.get("labelSelector", [""])[0] or "").split(",") if p)
                items = [o for (pl, n, _), o in sorted(server.objects.items()) if pl == plural and n == ns
                         and all(o["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())]
                return self._answer(200, {"apiVersion": "apps/v1", "kind": KINDS[plural] + "List",
                                          "metadata": {}, "items": items})
            if self.command == "GET":
                found = server.objects.get(key)
                return self._answer(200, found) if found else self._missing(f'{plural} "{name}"')
            if self.command == "DELETE":
                if server.objects.pop(key, None) is None:
                    return self._missing(f'{plural} "{name}"')
                return self._answer(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
            if self.command == "PATCH":
                obj = json.loads(json.dumps(body))
                old = server.objects.get(key)
                meta = obj.setdefault("metadata", {})
                meta["uid"] = (old or {}).get("metadata", {}).get("uid", f"uid-{len(server.objects)}")
                changed = old is None or old.get("spec") != obj.get("spec")  # metadata alone keeps the generation
                previous = (old or {}).get("metadata", {}).get("generation", 0)
                meta["generation"] = previous + 1 if changed else previous
                if old is not None and "status" in old:
                    obj["status"] = old["status"]
                if plural == "deployments":
                    server.rollout(obj)
                server.objects[key] = obj
                return self._answer(201 if old is None else 200, obj)
            return self._answer(405, {"kind": "Status", "message": f"{self.command} not served"})

        do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = _handle

    return Handler


@contextmanager
def fake_apiserver() -> Iterator[FakeApiServer]:
    """Run the recording server on a free loopback port; yield its state."""
    state = FakeApiServer()
    port = free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    state.url = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
