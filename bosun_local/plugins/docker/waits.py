"""Waiting on traefik: until it routes a deployment to a model, to that model only, or no longer at all."""
from __future__ import annotations

import logging
import time
from typing import Any

import httpx


class TraefikWaits:
    """Polls of `<traefikUrl>/deployments/<id>/info`, bounded by routeTimeoutSec (mixed into the docker plugin)."""

    traefik_url: str
    s: dict[str, Any]
    _logger: logging.Logger

    def wait_routed(self, deployment_id: str, model_id: str) -> str | None:
        """Wait until traefik answers for the deployment from this model; return why not, or None."""
        return wait_model_at(f"{self.traefik_url}/deployments/{deployment_id}/info", model_id,
                             float(self.s["routeTimeoutSec"]))

    def wait_only(self, deployment_id: str, model_id: str, in_a_row: int = 8) -> str | None:
        """Wait until traefik answers from this model alone (in_a_row answers); return why not, or None."""
        url = f"{self.traefik_url}/deployments/{deployment_id}/info"
        deadline = time.monotonic() + float(self.s["routeTimeoutSec"])
        seen = 0
        with httpx.Client(timeout=3.0) as http:
            while time.monotonic() < deadline:
                try:
                    response = http.get(url)
                    seen = seen + 1 if response.status_code == 200 and model_id in response.text else 0
                except httpx.HTTPError:
                    seen = 0
                if seen >= in_a_row:
                    return None
                time.sleep(0.1)
        return f"traefik still routes {url} to other models after {self.s['routeTimeoutSec']} s"

    def wait_hosts(self, deployment_id: str, include: set[str], exclude: set[str], in_a_row: int = 8) -> str | None:
        """Wait until traefik has answered from every `include` container and from no `exclude` one `in_a_row`.

        Containers are named by /info's host (Docker's hostname: the first 12 digits of the container id). Return
        why not, or None.
        """
        url = f"{self.traefik_url}/deployments/{deployment_id}/info"
        deadline = time.monotonic() + float(self.s["routeTimeoutSec"])
        missing, clean = set(include), 0
        with httpx.Client(timeout=3.0) as http:
            while time.monotonic() < deadline:
                try:
                    response = http.get(url)
                    host = str(response.json().get("host") or "") if response.status_code == 200 else ""
                except (httpx.HTTPError, ValueError):
                    host = ""
                missing.discard(host)
                clean = clean + 1 if host and host not in exclude else 0
                if not missing and clean >= (in_a_row if exclude else 1):
                    return None
                time.sleep(0.05)
        what = [f"never answered from {', '.join(sorted(missing))}"] if missing else []
        if exclude and clean < in_a_row:
            what.append(f"still answered from {', '.join(sorted(exclude))}")
        return f"traefik {' and '.join(what)} on {url} within {self.s['routeTimeoutSec']} s"

    def wait_unrouted(self, deployment_id: str) -> None:
        """Wait (bounded by routeTimeoutSec) until traefik no longer routes the deployment to any container."""
        url = f"{self.traefik_url}/deployments/{deployment_id}/info"
        deadline = time.monotonic() + float(self.s["routeTimeoutSec"])
        with httpx.Client(timeout=3.0) as http:
            while time.monotonic() < deadline:
                try:
                    if http.get(url).status_code != 200:
                        return
                except httpx.HTTPError:
                    return  # traefik itself is gone: nothing routes there
                time.sleep(0.2)
        self._logger.warning("deployment %s: traefik still routes to it after %s s; removing it anyway",
                             deployment_id, self.s["routeTimeoutSec"])


def wait_model_at(url: str, model_id: str, timeout: float) -> str | None:
    """Wait until `url` (a PPS's /info through traefik) answers 200 from this model; return why not, or None."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(timeout=3.0) as http:
        while time.monotonic() < deadline:
            try:
                response = http.get(url)
                if response.status_code == 200 and model_id in response.text:
                    return None
                last = f"HTTP {response.status_code} {response.text[:120]!r}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.05)  # a GET on loopback: a replacement waits on each tick
    return f"traefik did not route {url} to model {model_id} within {timeout:g} s (last: {last})"
