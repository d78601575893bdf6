"""The environment stack's start order and readiness, read from its rendered compose file.

Docker 20.10 has no healthcheck start_interval: a probe interval short enough for a quick `up` costs an exec every
few seconds per container forever (~1 % of a core each at idle). So Docker's probes run rarely, and `up` starts each
service itself as soon as what it depends on passes its own healthcheck test, which `up` runs until it does.
"""
from __future__ import annotations

from typing import Any

from bosun_local.errors import EngineError


def start_waves(services: dict[str, dict[str, Any]], chosen: list[str]) -> list[list[str]]:
    """Return the chosen services and what they depend on, in waves that depend only on earlier waves."""
    wanted: set[str] = set()
    todo = list(chosen)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        if name not in services:
            raise EngineError(f"the environment stack's compose file has no service {name!r}",
                              fix="run `bosun-local up` again: it renders the file first")
        wanted.add(name)
        todo.extend(_dependencies(services[name]))
    waves: list[list[str]] = []
    placed: set[str] = set()
    while len(placed) < len(wanted):
        wave = sorted(n for n in wanted - placed if set(_dependencies(services[n])) <= placed)
        if not wave:
            raise EngineError(f"the environment stack's services depend on each other in a cycle: "
                              f"{', '.join(sorted(wanted - placed))}", fix="fix depends_on in the compose template")
        waves.append(wave)
        placed.update(wave)
    return waves


def needs(services: dict[str, dict[str, Any]], chosen: list[str]) -> dict[str, list[str]]:
    """Return the chosen services and what they depend on, each with its own dependencies (checked for cycles)."""
    waves = start_waves(services, chosen)
    return {name: sorted(_dependencies(services[name])) for wave in waves for name in wave}


def _dependencies(service: dict[str, Any]) -> list[str]:
    depends = service.get("depends_on") or []
    return list(depends) if isinstance(depends, (list, dict)) else []


def probe_commands(services: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Return each service's healthcheck test as the argv an exec runs (services without one are left out)."""
    found: dict[str, list[str]] = {}
    for name, service in services.items():
        test = (service.get("healthcheck") or {}).get("test")
        if isinstance(test, str):
            found[name] = ["/bin/sh", "-c", test]
        elif isinstance(test, list) and len(test) > 1 and test[0] == "CMD":
            found[name] = [str(a) for a in test[1:]]
        elif isinstance(test, list) and len(test) == 2 and test[0] == "CMD-SHELL":
            found[name] = ["/bin/sh", "-c", str(test[1])]
    return found
