"""Field checks shared by DeploymentInfo and PEInfo; errors name the key that is wrong."""
from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from pathlib import Path
from typing import Any

import dateutil.parser

from bosun_local.errors import ConfigError


class ActionConfigError(ConfigError):
    """A value in an action config is missing or has the wrong type; `key` is its dotted path."""

    def __init__(self, key: str, problem: str, fix: str | None = None) -> None:
        super().__init__(f"{key} {problem}", fix)
        self.key = key
        self.problem = problem


def require_mapping(values: object, key: str) -> dict[str, Any]:
    """Return the value if it is a mapping, else raise naming the key."""
    if not isinstance(values, dict):
        raise ActionConfigError(key, f"must be a mapping of keys to values, got {type(values).__name__}",
                                fix=f"write {key} as `key: value` lines")
    return values


def id_field(values: dict[str, Any], key: str, parent: str, required: bool = True) -> str | None:
    """Return a non-empty id; YAML may read an all-digit id as a number, so numbers become strings."""
    value = values.get(key)
    if value is None:
        if required:
            raise ActionConfigError(f"{parent}.{key}", "is missing", fix=f"add `{key}: <id>` under {parent}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ActionConfigError(f"{parent}.{key}", f"must be a string id, got {type(value).__name__} {value!r}")
    text = str(value).strip()
    if not text:
        raise ActionConfigError(f"{parent}.{key}", "is empty", fix=f"set {key} to the id")
    return text


def str_field(values: dict[str, Any], key: str, parent: str) -> str | None:
    """Return an optional string value."""
    value = values.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ActionConfigError(f"{parent}.{key}", f"must be a string, got {type(value).__name__} {value!r}")


def choice_field(values: dict[str, Any], key: str, parent: str, choices: Collection[str]) -> str:
    """Return a required value that must be one of `choices`."""
    value = values.get(key)
    if value is None:
        raise ActionConfigError(f"{parent}.{key}", "is missing", fix=f"set it to one of: {', '.join(choices)}")
    if value not in choices:
        raise ActionConfigError(f"{parent}.{key}", f"must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


def path_field(values: dict[str, Any], key: str, parent: str) -> Path | None:
    """Return an optional non-empty path."""
    value = str_field(values, key, parent)
    if value is None:
        return None
    if not value.strip():
        raise ActionConfigError(f"{parent}.{key}", "is empty", fix="give a path or remove the key")
    return Path(value)


def dict_field(values: dict[str, Any], key: str, parent: str) -> dict[str, Any]:
    """Return an optional mapping, {} when absent or null."""
    value = values.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ActionConfigError(f"{parent}.{key}", f"must be a mapping, got {type(value).__name__} {value!r}",
                                fix="write it as `key: value` lines, or {} for none")
    return dict(value)


def text_field(values: dict[str, Any], key: str, parent: str) -> str:
    """Return a required, non-empty string."""
    value = str_field(values, key, parent)
    if value is None:
        raise ActionConfigError(f"{parent}.{key}", "is missing", fix=f"add `{key}: <value>` under {parent}")
    if not value:
        raise ActionConfigError(f"{parent}.{key}", "is empty", fix=f"set {key} to a value")
    return value


def bool_field(values: dict[str, Any], key: str, parent: str) -> bool | None:
    """Return an optional boolean."""
    value = values.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise ActionConfigError(f"{parent}.{key}", f"must be true or false, got {type(value).__name__} {value!r}")


def datetime_field(values: dict[str, Any], key: str, parent: str, iso_only: bool = True) -> datetime | None:
    """Return an optional date-time: ISO 8601 text (any format dateutil reads when not iso_only) or a datetime."""
    value = values.get(key)
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):  # YAML reads an unquoted 2021-03-29 as a date
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            parsed: datetime = dateutil.parser.isoparse(value) if iso_only else dateutil.parser.parse(value)
            return parsed
        except (ValueError, OverflowError) as exc:
            raise ActionConfigError(f"{parent}.{key}", f"is not a date-time: {value!r} ({exc})",
                                    fix="write it as ISO 8601, e.g. 2021-03-29T20:53:15.814792Z") from exc
    raise ActionConfigError(f"{parent}.{key}", f"must be a date-time, got {type(value).__name__} {value!r}")
