"""The environment stack's start order and probe commands, read from its rendered compose file."""
from __future__ import annotations

import pytest
import yaml

from bosun_local.envstack.readiness import needs, probe_commands, start_waves
from bosun_local.envstack.render import render
from bosun_local.errors import EngineError
from tests.foundation.test_render import environment_context


def rendered_services() -> dict:
    return yaml.safe_load(render("environment/compose.yaml.j2", environment_context()))["services"]


def test_waves_follow_depends_on_of_the_rendered_stack() -> None:
    services = rendered_services()
    waves = start_waves(services, list(services))
    placed: list[str] = []
    for wave in waves:
        for name in wave:
            assert set(services[name].get("depends_on") or []) <= set(placed), (name, waves)
        placed += wave
    assert sorted(placed) == sorted(services)
    assert waves[0] == sorted(n for n, s in services.items() if not s.get("depends_on"))
    assert "management-agent" in waves[-1] and "docker-proxy" in waves[0]


def test_waves_start_what_the_chosen_services_need() -> None:
    services = rendered_services()
    assert start_waves(services, ["traefik"]) == [["docker-proxy"], ["traefik"]]
    assert start_waves(services, ["rabbitmq"]) == [["rabbitmq"]]


def test_a_cycle_or_an_unknown_service_is_an_error() -> None:
    with pytest.raises(EngineError, match="cycle: a, b"):
        start_waves({"a": {"depends_on": ["b"]}, "b": {"depends_on": {"a": {}}}}, ["a"])
    with pytest.raises(EngineError, match="no service 'nope'"):
        start_waves({"a": {}}, ["nope"])


def test_probe_commands_take_each_healthcheck_form() -> None:
    found = probe_commands({
        "cmd": {"healthcheck": {"test": ["CMD", "bash", "-c", "exit 0"]}},
        "shell": {"healthcheck": {"test": ["CMD-SHELL", "true && true"]}},
        "plain": {"healthcheck": {"test": "true"}},
        "none": {"healthcheck": {"test": ["NONE"]}},
        "absent": {},
    })
    assert found == {"cmd": ["bash", "-c", "exit 0"], "shell": ["/bin/sh", "-c", "true && true"],
                     "plain": ["/bin/sh", "-c", "true"]}
    services = rendered_services()
    assert set(probe_commands(services)) == {n for n, s in services.items() if "healthcheck" in s}


def test_needs_gives_each_service_its_own_dependencies() -> None:
    services = rendered_services()
    needs_of = needs(services, ["management-agent"])
    assert needs_of["management-agent"] == sorted(services["management-agent"]["depends_on"])
    assert set(needs_of) == {"management-agent", *needs_of["management-agent"], "docker-proxy"}
    assert needs_of["docker-proxy"] == []
