"""Layered configuration: documented defaults < <data dir>/bosun-local.yaml < BOSUN_<KEY> env."""
from __future__ import annotations

import os
import re
import secrets
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
