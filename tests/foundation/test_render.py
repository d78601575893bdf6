"""Rendering is pure (same inputs, same bytes), strict, and matches the golden files."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from bosun_local.config import load_defaults
from bosun_local.envstack.environment import docker_proxy_context
from bosun_local.envstack.render import render, write_if_changed
from bosun_local.errors import ConfigError

GOLDEN = Path(__file__).parent / "golden"


def environment_context() -> dict[str, object]:
    return {**load_defaults(), "dataDir": "/data", "envDir": "/data/stacks/environment/env",
            "runAsUser": "10001:10001", "runAsUid": "10001", "runAsGid": "10001", "dockerSocketGid": "998",
            "agentHiddenFiles": ["token"], **docker_proxy_context(),
            "aliveHealthcheck": ["CMD", "python", "-c", "print(1)"], "agentMetricsPort": 9108, "probeInterval": "30s"}


def test_environment_matches_golden_file() -> None:
    text = render("environment/compose.yaml.j2", environment_context())
    golden = GOLDEN / "environment.compose.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_rendering_is_pure() -> None:
    assert render("environment/compose.yaml.j2", environment_context()) == render(
        "environment/compose.yaml.j2", environment_context())


def test_rendered_compose_is_valid_yaml_with_values_quoted() -> None:
    ctx = environment_context() | {"dockerNetwork": 'we"ird: {net}'}
    doc = yaml.safe_load(render("environment/compose.yaml.j2", ctx))
    assert doc["networks"]["bosun"]["name"] == 'we"ird: {net}'
    ctx = environment_context()
    doc = yaml.safe_load(render("environment/compose.yaml.j2", ctx))
    assert doc["networks"]["bosun"]["name"] == "bosun"


def test_traefik_api_stays_on_loopback_unless_published() -> None:
    def traefik(ctx: dict[str, object]) -> tuple[list[str], list[str]]:
        service = yaml.safe_load(render("environment/compose.yaml.j2", ctx))["services"]["traefik"]
        return [a for a in service["command"] if a.startswith("--entrypoints.traefik.")], service["ports"]

    # Unpublished (the default): on traefik's loopback, where no deployment reaches it, and no port mapping.
    assert traefik(environment_context()) == (["--entrypoints.traefik.address=127.0.0.1:8080"], ["127.0.0.1:8080:80"])
    # Published: a mapping reaches only the container's network address, so the API listens there.
    published = environment_context() | {"traefikApiPortMapping": ["127.0.0.1:8081:8080"]}
    assert traefik(published) == (["--entrypoints.traefik.address=:8080"], ["127.0.0.1:8080:80", "127.0.0.1:8081:8080"])


def test_missing_value_is_an_error_naming_it() -> None:
    ctx = environment_context()
    del ctx["envDir"]
    with pytest.raises(ConfigError) as err:
        render("environment/compose.yaml.j2", ctx)
    assert "envDir" in err.value.message
    assert "templates/environment/compose.yaml.j2" in err.value.message


def test_write_if_changed_keeps_identical_files(tmp_path: Path) -> None:
    path = tmp_path / "x" / "compose.yaml"
    assert write_if_changed(path, "a\n") is True
    mtime = path.stat().st_mtime_ns
    assert write_if_changed(path, "a\n") is False
    assert path.stat().st_mtime_ns == mtime
    assert write_if_changed(path, "b\n") is True
