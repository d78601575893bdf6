"""traefik file-provider routes of one deployment: mirror to challengers, split to a canary; render, apply, check."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from bosun_local.envstack.render import render, write_if_changed

TEMPLATE = "traefik/deployment-routes.yaml.j2"
# Above any docker-label router's default priority (its rule's length) and a shared pool's catch-all.
PRIORITY = 10000
VERSION_HEADER = "X-Bosun-Routing"


def path_rule(deployment_id: str) -> str:
    """Return the traefik rule of a deployment's paths (ours and DataRobot's), as its docker labels write it."""
    return f"PathPrefix(`/deployments/{deployment_id}/`) || PathPrefix(`/predApi/v1.0/deployments/{deployment_id}/`)"


def champion_service(router: str, slug: str) -> str:
    """Return the docker-provider service of one model's champion containers (beside the deployment's own)."""
    return f"{router}-c-{slug}@docker"


def side_service(router: str, slug: str) -> str:
    """Return the docker-provider service name of a challenger or canary container."""
    return f"{router}-m-{slug}@docker"


@dataclass
class Routes:
    """What the file provider should route for one deployment: champion, mirrors, and a canary with its share."""

    deployment_id: str
    router: str
    champion: str
    mirrors: list[str] = field(default_factory=list)
    canary: str | None = None
    canary_percent: int = 0
    retry_attempts: int = 5
    # The deployment's traffic pinned to `champion` alone (one model's containers), as a replacement leaves it.
    pinned: bool = False

    @property
    def needed(self) -> bool:
        """Return True when the label router alone is not enough (pinned, a mirror or a canary share exists)."""
        return self.pinned or bool(self.mirrors) or (self.canary is not None and self.canary_percent > 0)

    def version(self) -> str:
        """Return a short hash of what is routed: the header traefik answers with once it applied it."""
        doc = json.dumps([self.champion, self.mirrors, self.canary, self.canary_percent, self.retry_attempts])
        return hashlib.sha256(doc.encode()).hexdigest()[:16]

    def text(self) -> str:
        """Render the file-provider YAML (pure: same routes, same bytes)."""
        share = self.canary_percent if self.canary else 0
        return render(TEMPLATE, {
            "routerName": self.router, "rule": path_rule(self.deployment_id), "priority": PRIORITY,
            "version": self.version(), "retryAttempts": self.retry_attempts, "mirrors": self.mirrors,
            "champion": self.champion, "championWeight": 100 - share,
            "canary": self.canary if share else None, "canaryWeight": share})


class RoutesFile:
    """`<routes dir>/<project>.yaml`: written atomically when routes are needed, removed when they are not."""

    def __init__(self, routes_dir: Path, project: str) -> None:
        self.path = routes_dir / f"{project}.yaml"

    def apply(self, routes: Routes) -> str | None:
        """Write (or remove) the file; return the version traefik will answer with, None when label-routed."""
        if not routes.needed:
            self.remove()
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.parent.chmod(0o755)  # traefik reads it as another user
        write_if_changed(self.path, routes.text())
        self.path.chmod(0o644)
        return routes.version()

    def remove(self) -> None:
        """Remove the file (traefik falls back to the deployment's label router)."""
        self.path.unlink(missing_ok=True)

    def read(self, deployment_id: str, router: str) -> Routes | None:
        """Return the routes the file holds, None when there is none (or it is not one this module rendered)."""
        try:
            doc = yaml.safe_load(self.path.read_text())
            services = doc["http"]["services"]
            front = services[f"{router}-front"]
            mirrors = [str(m["name"]) for m in (front.get("mirroring") or {}).get("mirrors") or []]
            weighted = (services[f"{router}-main"] if "mirroring" in front else front)["weighted"]["services"]
            canary = weighted[1] if len(weighted) > 1 else None
            attempts = int(doc["http"]["middlewares"][f"{router}-retry"]["retry"]["attempts"])
        except FileNotFoundError:
            return None
        except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError, ValueError):
            return None
        return Routes(deployment_id, router, str(weighted[0]["name"]), mirrors,
                      str(canary["name"]) if canary else None, int(canary["weight"]) if canary else 0, attempts,
                      pinned=not mirrors and canary is None)


def wait_applied(traefik_url: str, deployment_id: str, version: str | None, timeout: float,
                 in_a_row: int = 3) -> str | None:
    """Wait until traefik answers the deployment with this routes version (None: label-routed); return why not."""
    url = f"{traefik_url}/deployments/{deployment_id}/info"
    deadline = time.monotonic() + timeout
    seen, last = 0, "no answer yet"
    with httpx.Client(timeout=3.0) as http:
        while time.monotonic() < deadline:
            try:
                response = http.get(url)
                got = response.headers.get(VERSION_HEADER)
                last = f"HTTP {response.status_code}, {VERSION_HEADER}: {got}"
                seen = seen + 1 if response.status_code == 200 and got == version else 0
            except httpx.HTTPError as exc:
                seen, last = 0, f"{type(exc).__name__}: {exc}"
            if seen >= in_a_row:
                return None
            time.sleep(0.05)
    want = f"routes version {version}" if version else "label routing (no routes file)"
    return (f"traefik did not apply {want} for {url} within {timeout:g} s (last: {last}); is traefik's file "
            "provider on? (`bosun-local up` renders it)")
