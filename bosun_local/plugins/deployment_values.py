"""The values one deployment is rendered from: one set, two targets (Compose templates and Kubernetes manifests).

Tutor's pattern: every platform's templates read the same values, so a deployment means the same thing on each;
a platform adds only what it alone needs (a Docker network, a Kubernetes namespace).
"""
from __future__ import annotations

import re
from typing import Any, Protocol

from bosun_local.contracts.challengers import ROUTE_PRIORITY, challengers_prefix


class ModelValues(Protocol):
    """What the templates need of one model of a deployment (the docker plugin's ModelService)."""

    def context(self, container_prefix: str) -> dict[str, Any]: ...


def deployment_values(deployment_id: str, name: str, models: list[ModelValues], settings: dict[str, Any],
                      run_as_user: str, monitoring: dict[str, str] | None) -> dict[str, Any]:
    """Return the values shared by every platform's templates of one deployment."""
    return {
        "projectName": name, "deploymentId": deployment_id, "routerName": router_name(name),
        "ppsBaseImage": settings["ppsBaseImage"], "runAsUser": run_as_user,
        "gracefulTimeoutSec": int(settings["gracefulTimeoutSec"]), "retryAttempts": int(settings["retryAttempts"]),
        "monitoring": monitoring, "challengersPrefix": challengers_prefix(deployment_id),
        "challengerPriority": ROUTE_PRIORITY,
        "models": [m.context(f"{name}_") for m in models],
    }


def router_name(name: str) -> str:
    """Return a name usable as a traefik router and a DNS label: lowercase letters, digits and '-'."""
    return re.sub(r"[^a-z0-9-]", "-", name.lower())


def prediction_url(outfacing_prefix: str, deployment_id: str) -> str:
    """Return the URL clients send a deployment's predictions to, under the environment's outfacing prefix."""
    return f"{outfacing_prefix.rstrip('/')}/deployments/{deployment_id}/predictions"
