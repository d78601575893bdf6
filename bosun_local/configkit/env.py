"""Strict parsing of environment variables and setting values: a bad value is an error naming the variable."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bosun_local.errors import ConfigError

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def _origin(name: str, where: str | None) -> str:
    """Return how an error names a value: the environment variable, or where the value came from."""
    return f"{where}: {name}" if where else f"environment variable {name}"


def parse_bool(raw: str, name: str, where: str | None = None) -> bool:
    """Return a yes/no word as a bool; raise ConfigError naming the variable otherwise."""
    text = raw.strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ConfigError(f"{_origin(name, where)}={raw!r} is not a boolean", fix=f"set {name} to true or false (1 or 0)")


def parse_int(raw: str, name: str, where: str | None = None, minimum: int | None = None,
              example: object = None) -> int:
    """Return a whole number, at least minimum; raise ConfigError naming the variable otherwise."""
    text = raw.strip()
    like = f" like {example}" if example is not None else ""
    try:
        value = int(text)
    except ValueError:
        try:
            float(text)
            reason = "is not a whole number"
        except ValueError:
            reason = "is not a whole number (it is not a number at all)"
        raise ConfigError(f"{_origin(name, where)}={raw!r} {reason}", fix=f"set {name} to a number{like}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{_origin(name, where)}={value} is below {minimum}", fix=f"set {name} >= {minimum}")
    return value


def parse_float(raw: str, name: str, where: str | None = None, minimum: float | None = None,
                above: float | None = None, example: object = None) -> float:
    """Return a number, at least minimum or above a bound; raise ConfigError naming the variable otherwise."""
    like = f" like {example}" if example is not None else ""
    try:
        value = float(raw.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ConfigError(f"{_origin(name, where)}={raw!r} is not a number", fix=f"set {name} to a number{like}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{_origin(name, where)}={value} is below {minimum}", fix=f"set {name} >= {minimum}")
    if above is not None and value <= above:
        raise ConfigError(f"{_origin(name, where)}={value} must be above {above}", fix=f"set {name} to e.g. {example}")
    return value


def _raw(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    """Return a variable's text, or default when it is unset or empty."""
    return _raw(env, name) or default


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int | None = None) -> int:
    """Return a variable as a whole number, or default when it is unset or empty."""
    raw = _raw(env, name)
    return parse_int(raw, name, minimum=minimum, example=default) if raw else default


def env_float(env: Mapping[str, str], name: str, default: float, minimum: float | None = None,
              above: float | None = None) -> float:
    """Return a variable as a number, or default when it is unset or empty."""
    raw = _raw(env, name)
    return parse_float(raw, name, minimum=minimum, above=above, example=default) if raw else default


def env_flag(env: Mapping[str, str], name: str) -> bool | None:
    """Return a yes/no variable, or None when it is unset or empty."""
    raw = _raw(env, name)
    return parse_bool(raw, name) if raw else None


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """Return a yes/no variable, or default when it is unset or empty."""
    flag = env_flag(env, name)
    return default if flag is None else flag


@dataclass(frozen=True)
class Setting:
    """One named setting (an environment variable): its type, default, meaning and older names."""

    name: str
    type: type
    default: Any
    help: str
    # Older variable names still read (newest first wins), and short keys for "k=v;k=v" config strings.
    legacy_names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    def parse(self, value: Any, where: str | None = None) -> Any:
        """Return value (text or already typed) as this setting's type; numbers must not be negative."""
        if not isinstance(value, str):
            if isinstance(value, self.type) or (self.type is float and isinstance(value, int)):
                return value
            raise ConfigError(f"{_origin(self.name, where)} must be a {self.type.__name__}, got {value!r}",
                              fix=f"use a value like {self.default}")
        if self.type is bool:
            # An empty value switches a flag off (datarobot-mlops reads it that way).
            return False if not value.strip() else parse_bool(value, self.name, where)
        if self.type is int:
            return parse_int(value, self.name, where, minimum=0, example=self.default)
        if self.type is float:
            return parse_float(value, self.name, where, minimum=0, example=self.default)
        return value
