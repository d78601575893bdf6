"""A third-party plugin registered through the `bosun_local.plugins` entry point: new files plus one line.

tests/plugins/example_plugin/ holds the whole example: the plugin module and the dist-info whose
entry_points.txt line registers it, as `pip install` of a distribution declaring
`[project.entry-points."bosun_local.plugins"] example = "bosun_example_plugin:ExamplePlugin"` would.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bosun_local.client import ServiceClient, ServiceError
from bosun_local.plugins import list_plugins, load_plugin_class, plugin_names, run_action
from tests.support.service import running_service

EXAMPLE = Path(__file__).with_name("example_plugin")
RUNNER = Path(sys.executable).parent / "bosun-plugin-runner"
DEP = {"id": "d" * 24, "modelId": "m" * 24, "modelExecutionType": "custom_inference_model"}


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the example distribution on sys.path, as installing it would."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    return EXAMPLE


def test_the_registration_line_is_all_bosun_local_needs(installed: Path, tmp_path: Path) -> None:
    assert (installed / "bosun_example_plugin-0.1.dist-info" / "entry_points.txt").read_text().splitlines() == [
        "[bosun_local.plugins]", "example = bosun_example_plugin:ExamplePlugin"]
    assert "example" in plugin_names()
    cls = load_plugin_class("example")
    assert cls.__name__ == "ExamplePlugin"
    row = next(r for r in list_plugins() if r["name"] == "example")
    assert (row["available"], row["source"]) == (True, "distribution bosun-example-plugin")
    config = {"pluginConfig": {"stateDir": str(tmp_path)}, "deploymentInfo": DEP}
    assert run_action("example", "deployment_start", config).status == "passing"
    status = run_action("example", "pe_status", {**config, "peInfo": {"id": "e" * 24, "deployments": [DEP["id"]]}})
    assert status.data["deploymentsStatus"][DEP["id"]]["state"] == "ready"
    # The bosun-local extension action has a default every plugin inherits.
    scaled = run_action("example", "monitoring_scale", {**config, "scaleInfo": {"replicas": 2}})
    assert (scaled.status, scaled.data) == ("passing", {"replicas": None})


def test_a_registered_plugin_that_is_not_installed_is_named(installed: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken-0.1.dist-info"
    broken.mkdir()
    (broken / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (broken / "entry_points.txt").write_text("[bosun_local.plugins]\nnomad = no_such_nomad_module:NomadPlugin\n"
                                             "test = shadowing_attempt:Plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    rows = {r["name"]: r for r in list_plugins()}
    assert rows["nomad"]["available"] is False
    assert rows["nomad"]["detail"] == ("plugin nomad is not available: module no_such_nomad_module is not part of "
                                       "this installation")
    assert rows["test"]["source"] == "built-in"  # an entry point cannot shadow a built-in


def test_the_runner_lists_it(installed: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([str(RUNNER), "--list-plugins", "--json"], env=env, capture_output=True, text=True,
                         check=True, timeout=60)
    names = {r["name"] for r in json.loads(out.stdout)}
    assert names == {"docker", "filesystem", "k8s", "kubernetes", "swarm", "test", "example"}


def test_the_service_accepts_its_platform_only_where_it_is_installed(tmp_path: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(EXAMPLE), os.environ.get("PYTHONPATH", "")])}
    with running_service(tmp_path / "with", env=env) as (url, token):
        with ServiceClient(url, token) as client:
            created = client.create_environment("ex", "example", {"stateDir": str(tmp_path / "state")})
            assert created["platform"] == "example"
    with running_service(tmp_path / "without") as (url, token):
        known = "'example' is not a registered plugin; known: docker, filesystem, k8s, kubernetes, swarm, test"
        with ServiceClient(url, token) as client, pytest.raises(ServiceError, match=known):
            client.create_environment("ex", "example")
