"""What each consumer of the Docker API may ask for: method + path allow-lists and checks of container bodies.

The Docker socket is host root. traefik only reads (containers, networks, events); the management agent runs
Compose and our engine adapter, so it may create and drive containers, but only unprivileged, labelled ones whose
bind mounts stay under the data dir: a compromised agent (or a plugin it runs) cannot mount `/` or the socket.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

_V = r"(?:/v[0-9.]+)?"
_ID = r"[A-Za-z0-9_.-]+"

# Read-only calls every client makes (API version negotiation, engine facts).
_COMMON = (("GET|HEAD", r"/_ping"), ("GET", r"/version"), ("GET", r"/info"))

TRAEFIK_RULES: tuple[tuple[str, str], ...] = (
    *_COMMON,
    ("GET", r"/containers/json"),
    ("GET", rf"/containers/{_ID}/json"),
    ("GET", r"/networks"),
    ("GET", rf"/networks/{_ID}"),
    ("GET", r"/events"),
)

AGENT_RULES: tuple[tuple[str, str], ...] = (
    *_COMMON,
    ("GET", r"/containers/json"),
    ("GET", rf"/containers/{_ID}/(?:json|logs|stats|top)"),
    ("POST", r"/containers/create"),
    ("POST", rf"/containers/{_ID}/(?:start|stop|restart|kill|wait|rename)"),
    ("DELETE", rf"/containers/{_ID}"),
    # Compose's drain (`touch /tmp/drain`) before a blue/green switch: an exec as the container's own user.
    ("POST", rf"/containers/{_ID}/exec"),
    ("POST", rf"/exec/{_ID}/(?:start|resize)"),
    ("GET", rf"/exec/{_ID}/json"),
    ("GET", r"/networks"),
    ("GET", rf"/networks/{_ID}"),
    ("POST", rf"/networks/{_ID}/(?:connect|disconnect)"),
    ("GET", r"/images/json"),
    ("GET", rf"/images/{_ID}(?:[:/@]{_ID})*/json"),
    ("GET", r"/volumes"),
    ("GET", r"/events"),
)

# Namespaces a container could share with the host; none of the stack's containers needs one.
_HOST_MODES = ("NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode")


@dataclass(frozen=True)
class Policy:
    """One consumer's allow-list, and what a container it creates may be given."""

    name: str
    rules: tuple[tuple[str, str], ...]
    bind_roots: tuple[str, ...] = ()  # host paths under which bind mounts are allowed (agent only)
    label_prefix: str = "io.bosun-local."
    _compiled: list[tuple[re.Pattern[str], re.Pattern[str]]] = field(default_factory=list, compare=False)

    def __post_init__(self) -> None:
        for methods, path in self.rules:
            self._compiled.append((re.compile(rf"^(?:{methods})$"), re.compile(rf"^{_V}{path}/?$")))

    def allows(self, method: str, path: str) -> bool:
        """Return True if this consumer may call METHOD PATH (path without the query string)."""
        return any(m.match(method) and p.match(path) for m, p in self._compiled)

    def body_check(self, method: str, path: str) -> bool:
        """Return True if the request's JSON body must be checked before it is forwarded."""
        return method == "POST" and bool(re.match(rf"^{_V}/containers/(?:create|{_ID}/exec)/?$", path))

    def refuse_body(self, path: str, body: bytes) -> str | None:
        """Return why a container-create or exec body is refused, or None when it may pass."""
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            return "the body is not JSON"
        if not isinstance(doc, dict):
            return "the body is not a JSON object"
        if path.rstrip("/").endswith("/exec"):
            return _refuse_exec(doc)
        return self._refuse_create(doc)

    def _refuse_create(self, doc: dict[str, Any]) -> str | None:
        labels = doc.get("Labels") or {}
        if not any(str(k).startswith(self.label_prefix) for k in labels):
            return f"a container must carry an {self.label_prefix}* label (the agent touches only its own)"
        host = doc.get("HostConfig") or {}
        if host.get("Privileged"):
            return "privileged containers are not allowed"
        if host.get("CapAdd"):
            return f"added capabilities are not allowed ({host['CapAdd']})"
        if host.get("Devices") or host.get("DeviceRequests") or host.get("DeviceCgroupRules"):
            return "host devices are not allowed"
        for key in _HOST_MODES:
            if str(host.get(key) or "").startswith("host") or str(host.get(key) or "").startswith("container:"):
                return f"{key}={host[key]} shares a namespace outside the container"
        if any("unconfined" in str(o) or str(o).startswith("label=disable") for o in host.get("SecurityOpt") or []):
            return f"security options that disable confinement are not allowed ({host['SecurityOpt']})"
        sources = [str(b).split(":", 1)[0] for b in host.get("Binds") or []]
        for mount in host.get("Mounts") or []:
            if mount.get("Type") == "bind":
                sources.append(str(mount.get("Source", "")))
            elif mount.get("Type") == "volume" and (mount.get("VolumeOptions") or {}).get("DriverConfig"):
                return "volumes with driver options (bind mounts in disguise) are not allowed"
        for source in sources:
            if source.startswith("/") and not self._bind_ok(source):
                return (f"bind mount of {source} is outside the allowed roots "
                        f"({', '.join(self.bind_roots) or 'none'})")
        return None

    def _bind_ok(self, source: str) -> bool:
        path = PurePosixPath(source)
        if ".." in path.parts:
            return False
        return any(path == PurePosixPath(root) or PurePosixPath(root) in path.parents for root in self.bind_roots)


def _refuse_exec(doc: dict[str, Any]) -> str | None:
    if doc.get("Privileged"):
        return "privileged exec is not allowed"
    if str(doc.get("User") or "").split(":", 1)[0] in ("0", "root"):
        return "exec as root is not allowed"
    return None


def policy_for(name: str, bind_roots: tuple[str, ...] = ()) -> Policy:
    """Return the policy of a consumer by name (traefik or agent)."""
    if name == "traefik":
        return Policy("traefik", TRAEFIK_RULES)
    if name == "agent":
        return Policy("agent", AGENT_RULES, bind_roots=bind_roots)
    raise ValueError(f"unknown Docker API consumer {name!r}: choose traefik or agent")
