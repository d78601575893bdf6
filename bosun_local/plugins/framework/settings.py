"""Plugin settings: documented defaults < `pluginConfig` < the private config file (YAML or JSON)."""
from __future__ import annotations

import logging
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from bosun_local.configkit.yaml_file import read_yaml
from bosun_local.errors import ConfigError


def _type_ok(value: Any, default: Any) -> bool:
    if default is None or value is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int | float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, type(default))


def read_private_config(path: str | Path) -> dict[str, Any]:
    """Read a plugin's private config file; errors name the file and line."""
    # JSON is YAML, so the seed's JSON private configs load too.
    return read_yaml(path, "private config file", missing_fix="check the --private-config path").mapping()


def resolve_settings(defaults: dict[str, Any], plugin_config: dict[str, Any] | None,
                     private_config_file: str | Path | None, plugin_name: str,
                     logger: logging.Logger | None = None) -> dict[str, Any]:
    """Merge defaults, pluginConfig and the private file; check types against the defaults."""
    log = logger or logging.getLogger(__name__)
    values = dict(defaults)
    sources: list[tuple[str, dict[str, Any]]] = [("pluginConfig", dict(plugin_config or {}))]
    if private_config_file:
        sources.append((str(private_config_file), read_private_config(private_config_file)))
    for where, layer in sources:
        for key, value in layer.items():
            if key not in defaults:
                # pluginConfig also carries the agent's MLOPS_* keys, so only the private file is checked.
                if where != "pluginConfig":
                    close = get_close_matches(str(key), list(defaults), n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    log.warning("%s: key '%s' is not a %s plugin setting and is ignored%s",
                                where, key, plugin_name, hint)
                continue
            if not _type_ok(value, defaults[key]):
                raise ConfigError(
                    f"{where}: key '{key}' of the {plugin_name} plugin must be a {type(defaults[key]).__name__},"
                    f" got {type(value).__name__} {value!r}",
                    fix=f"set {key} to a value like {defaults[key]!r}",
                )
            values[key] = value
    return values
