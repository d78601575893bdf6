"""Layered configuration: documented defaults < <data dir>/bosun-local.yaml < BOSUN_<KEY> env."""
from __future__ import annotations

import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from difflib import get_close_matches
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bosun_local.configkit.yaml_file import read_yaml
from bosun_local.contracts import layout
from bosun_local.errors import ConfigError

CONFIG_FILE_NAME = layout.CONFIG_FILE
SECRETS_FILE_NAME = layout.SECRETS_FILE


def data_dir() -> Path:
    """Return the data dir: $BOSUN_HOME or ~/.local/share/bosun-local."""
    home = os.environ.get(layout.HOME_ENV)
    return Path(home).expanduser().resolve() if home else layout.DEFAULT_DATA_DIR.expanduser()


def env_name(key: str) -> str:
    """Return the environment variable that overrides a camelCase key."""
    return "BOSUN_" + re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).upper()


def load_defaults() -> dict[str, Any]:
    """Return the documented defaults shipped with the package."""
    text = resources.files("bosun_local").joinpath("defaults.yml").read_text()
    return yaml.safe_load(text)


def _check_type(key: str, value: Any, default: Any, where: str) -> None:
    expected = type(default)
    ok = isinstance(value, expected) or (expected is float and isinstance(value, int))
    if expected is int and isinstance(value, bool):
        ok = False
    if not ok:
        raise ConfigError(
            f"{where}: key '{key}' must be a {expected.__name__}, got {type(value).__name__} {value!r}",
            fix=f"set {key} to a value like {default!r}",
        )


# Compose project and Docker network names: lowercase letters, digits, '-' and '_' (Compose's own rule).
_PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_CONTAINER_PREFIX = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}")
_PORT_MAPPING = re.compile(
    r"(?:(?P<ip>\[[0-9a-fA-F:]+\]|[0-9.]+):)?(?P<host>\d{1,5}):(?P<container>\d{1,5})(?:/(tcp|udp))?")
_URL = re.compile(r"https?://[^\s/]+(/\S*)?")
_URL_KEYS = ("outfacingPredictionURLPrefix", "serviceUrl", "traefikUrl")
_POSITIVE_KEYS = ("waitTimeoutSec", "envProbeIntervalSec", "eventRetentionDays", "monitoringAgentBacklog",
                  "monitoringAgentsMax", "traefikAccessLogMaxKB", "associationIndexMaxIds")
_WARNED: set[str] = set()


def _check_port_mapping(key: str, mapping: Any, where: str) -> None:
    match = _PORT_MAPPING.fullmatch(mapping) if isinstance(mapping, str) else None
    ports = [int(match["host"]), int(match["container"])] if match else []
    if not match or not all(1 <= p <= 65535 for p in ports):
        raise ConfigError(f"{where}: key '{key}' has mapping {mapping!r}, not host_ip:host_port:container_port "
                          "with ports 1-65535", fix=f"write it like \"127.0.0.1:8080:80\" (see {key} in the defaults)")
    ip = (match["ip"] or "").strip("[]")
    if ip in ("", "0.0.0.0", "::"):
        # Someone who writes 0.0.0.0 means to expose the port, so it is allowed; but it is said, once.
        warning = (f"warning: {where}: {key} {mapping!r} binds every network interface: other machines can reach "
                   "it (RabbitMQ, the service API). Use 127.0.0.1:... to keep it on this host")
        if warning not in _WARNED:
            _WARNED.add(warning)
            print(warning, file=sys.stderr)


def check_value(key: str, value: Any, where: str) -> None:
    """Refuse (ConfigError naming where, the key and a fix) values of the right type that cannot work."""
    if key == "projectName" or key == "dockerNetwork":
        if not _PROJECT_NAME.fullmatch(value):
            raise ConfigError(f"{where}: key '{key}' is {value!r}, not a valid Compose/Docker name",
                              fix="use lowercase letters, digits, '-' and '_', starting with a letter or digit "
                                  "(e.g. my-stack)")
    elif key == "containerNamePrefix" and not _CONTAINER_PREFIX.fullmatch(value):
        raise ConfigError(f"{where}: key '{key}' is {value!r}, not a valid start of a container name",
                          fix="use letters, digits, '_', '.' and '-' (e.g. deployment_)")
    elif key.endswith("PortMapping"):
        if not value:
            raise ConfigError(f"{where}: key '{key}' is empty", fix="give at least one \"127.0.0.1:port:port\"")
        for mapping in value:
            _check_port_mapping(key, mapping, where)
    elif key in _URL_KEYS and (value or key != "traefikUrl") and not _URL.fullmatch(value):
        empty = " or leave it empty" if key == "traefikUrl" else ""
        raise ConfigError(f"{where}: key '{key}' is {value!r}, not an http(s) URL",
                          fix=f"write it like \"http://127.0.0.1:8080\"{empty}")
    elif key in _POSITIVE_KEYS and not value > 0:
        raise ConfigError(f"{where}: key '{key}' is {value!r}, must be more than 0", fix=f"use a positive {key}")
    elif key == "spool" and value not in ("rabbitmq", "sqs"):
        raise ConfigError(f"{where}: key 'spool' is {value!r}", fix="use rabbitmq or sqs")


def load_file(path: Path, defaults: dict[str, Any]) -> dict[str, Any]:
    """Read and validate a user config file; errors name the file, line and key."""
    file = read_yaml(path, "config file")
    values = file.mapping()
    for key, value in values.items():
        where = file.where(str(key))
        if key not in defaults:
            close = get_close_matches(str(key), list(defaults), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(sorted(defaults))}"
            raise ConfigError(f"{where}: unknown key '{key}'", fix=hint)
        _check_type(key, value, defaults[key], where)
        check_value(key, value, where)
    return values


def load_env(defaults: dict[str, Any]) -> dict[str, Any]:
    """Return overrides from BOSUN_<KEY> environment variables, parsed as YAML scalars."""
    values: dict[str, Any] = {}
    for key, default in defaults.items():
        name = env_name(key)
        if name not in os.environ:
            continue
        raw = os.environ[name]
        try:
            value = yaml.safe_load(raw) if not isinstance(default, str) else raw
        except yaml.YAMLError as exc:
            raise ConfigError(f"environment variable {name}: cannot parse {raw!r}",
                              fix=f"set it like {default!r}") from exc
        _check_type(key, value, default, f"environment variable {name}")
        check_value(key, value, f"environment variable {name}")
        values[key] = value
    return values


@dataclass
class Config:
    """Resolved configuration of one data dir."""

    data_dir: Path
    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def stacks_dir(self) -> Path:
        return layout.DataDir(self.data_dir).stacks_dir

    @property
    def traefik_dir(self) -> Path:
        return layout.DataDir(self.data_dir).traefik_dir

    @property
    def packages_dir(self) -> Path:
        return layout.DataDir(self.data_dir).packages_dir

    @property
    def logs_dir(self) -> Path:
        return layout.DataDir(self.data_dir).logs_dir

    @property
    def token_file(self) -> Path:
        return layout.DataDir(self.data_dir).token_file

    def secrets(self) -> dict[str, str]:
        """Return generated secrets, creating them once (0600) so re-renders never rotate them."""
        path = self.data_dir / SECRETS_FILE_NAME
        if path.exists():
            return yaml.safe_load(path.read_text()) or {}
        values = {"rabbitmqUser": "bosun", "rabbitmqPassword": secrets.token_urlsafe(24)}
        write_private(path, yaml.safe_dump(values))
        return values


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (mode 0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_config(directory: Path | None = None) -> Config:
    """Resolve the configuration: defaults, then the data dir's file, then the environment."""
    root = directory or data_dir()
    defaults = load_defaults()
    values = dict(defaults)
    path = root / CONFIG_FILE_NAME
    if path.exists():
        values.update(load_file(path, defaults))
    values.update(load_env(defaults))
    return Config(data_dir=root, values=values)
