"""The environment stack's optional Prometheus (`bosun-local up --with prometheus`): its files and its image."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bosun_local.envstack.render import render, write_if_changed
from bosun_local.errors import UsageError

if TYPE_CHECKING:
    from bosun_local.envstack.environment import EnvironmentStack

PROMETHEUS = "prometheus"
EXTRAS = (PROMETHEUS,)
# Agents serve /metrics on this port inside the stack's network (never published).
AGENT_METRICS_PORT = 9108
# traefik's metrics entrypoint on the stack's network (its API entrypoint listens on its loopback only).
TRAEFIK_METRICS_PORT = 8082
# The PPS routes whose requests are predictions (what the recording rules rate).
PREDICTION_ROUTES = ("/predictions|/predict|/predApi/predictions|/predictionsUnstructured|/predictUnstructured"
                     "|/predApi/predictionsUnstructured|/v2/models/infer")
EXTRAS_FILE = "extras.json"
# Prometheus' own service token: scope reader (GETs only), never the data dir's admin token.
TOKEN_NAME = "prometheus"


def check_extras(names: list[str]) -> list[str]:
    """Return the optional services asked for; an unknown name is a usage error."""
    unknown = [n for n in names if n not in EXTRAS]
    if unknown:
        raise UsageError(f"unknown optional service(s): {', '.join(unknown)}", fix=f"choose from {', '.join(EXTRAS)}")
    return sorted(set(names))


def recorded_extras(stack_dir: Path) -> list[str]:
    """Return the optional services the last `up --with` started (they stay until `down`)."""
    try:
        return [n for n in json.loads((stack_dir / EXTRAS_FILE).read_text()) if n in EXTRAS]
    except (OSError, ValueError, TypeError):
        return []


def record_extras(stack_dir: Path, names: list[str]) -> None:
    """Remember the optional services running, or forget them (empty list)."""
    path = stack_dir / EXTRAS_FILE
    if names:
        write_if_changed(path, json.dumps(sorted(names)) + "\n")
    else:
        path.unlink(missing_ok=True)


def config_dir(stack: EnvironmentStack) -> Path:
    """Return where the Prometheus config and rules are rendered (mounted read-only into its container)."""
    return stack.compose_file.parent / PROMETHEUS


def token_file(stack: EnvironmentStack) -> Path:
    """Return the file holding Prometheus' reader token (inside its read-only config mount)."""
    return config_dir(stack) / "token"


def ensure_reader_token(stack: EnvironmentStack) -> Path:
    """Give Prometheus a reader-scope service token (created once; again if it was revoked); return its file."""
    from bosun_local.config import write_private
    from bosun_local.service.tokens import TokenStore

    path = token_file(stack)
    store = TokenStore(stack.config.data_dir)
    current = path.read_text().strip() if path.is_file() else ""
    if current and store.lookup(current.encode()) is not None:
        return path
    if any(r.name == TOKEN_NAME for r in store.records()):
        store.revoke(TOKEN_NAME)  # its secret is lost with the file: replace it
    _, secret = store.create(TOKEN_NAME, "reader")
    write_private(path, secret + "\n")
    return path


def context(stack: EnvironmentStack) -> dict[str, Any]:
    """Return the template values of the Prometheus files and service."""
    directory = config_dir(stack)
    return {"prometheusConfigDir": str(directory), "rulesFile": str(directory / "rules.yml"),
            "tokenFile": str(token_file(stack)), "agentMetricsPort": AGENT_METRICS_PORT,
            "traefikMetricsPort": TRAEFIK_METRICS_PORT,
            "predictionRoutes": PREDICTION_ROUTES}


def render_files(stack: EnvironmentStack, values: dict[str, Any]) -> str:
    """Render prometheus.yml and rules.yml beside the compose file; return a hash of both (recreates on change)."""
    directory = config_dir(stack)
    digest = hashlib.sha256()
    for template, name in (("environment/prometheus.yml.j2", "prometheus.yml"),
                           ("environment/prometheus-rules.yml.j2", "rules.yml")):
        text = render(template, values)
        write_if_changed(directory / name, text)
        digest.update(text.encode())
    return digest.hexdigest()[:16]
