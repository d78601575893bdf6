"""`workshop init` + `workshop run` + `workshop clean` on the real engine, in a stack of its own."""
from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from bosun_local.client import ServiceClient, ServiceError
from bosun_local.config import load_config
from bosun_local.engine import adapter
from bosun_local.envstack.environment import EnvironmentStack
from bosun_local.pps.inputs import parse_form
from bosun_local.pps.model import load_package
from bosun_local.workshop.layout import WorkshopDir
from tests.conftest import free_port, write_test_config
from tests.workshop.helpers import NOTES_ROW, bosun

COUNT = 100
pytestmark = pytest.mark.docker


@pytest.fixture
def stack_home(stack_images: None, bosun_home: Path) -> Iterator[Path]:
    """A data dir with its own project, network and ports; its environment stack is removed afterwards."""
    write_test_config(bosun_home, f"wse2e{secrets.token_hex(3)}")
    yield bosun_home
    EnvironmentStack(load_config()).down(volumes=True)


def test_init_run_clean_end_to_end(stack_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "workshop"
    init = bosun("workshop", "init", str(folder), "--app-port", str(free_port()),
                 "--instrumented-port", str(free_port()))
    assert init.returncode == 0, init.stderr
    stack = WorkshopDir(folder).app_stack()
    try:
        run = bosun("workshop", "run", str(folder), "--count", str(COUNT), "--json", timeout=900)
        assert run.returncode == 0, run.stderr
        summary = json.loads(run.stdout)
        print("workshop run timings (s):", summary["timingsSec"])

        # Every prediction sent reached the service's stats through RabbitMQ and the monitoring agent, once.
        external = summary["externalDeployment"]["id"]
        with ServiceClient(config=load_config()) as client:
            assert client.stats(external)["predictions"] == COUNT
        assert summary["stats"]["predictions"] == COUNT

        # The notes' row gets the same answer from the plain app, the instrumented app and the managed deployment,
        # and it is what the model itself says.
        predictions = summary["predictions"]
        assert set(predictions) == {"plainApp", "instrumentedApp", "managedDeployment"}
        model = load_package(folder / "model/package")
        pairs = [tuple(p.split("=", 1)) for p in NOTES_ROW.split("&")]
        expected = float(model.score(parse_form(pairs, model.schema)).predictions[0])
        assert predictions == {name: expected for name in predictions}
        managed = summary["managedDeployment"]
        assert managed["predictUrl"].startswith(load_config()["outfacingPredictionURLPrefix"])
    finally:
        clean = bosun("workshop", "clean", str(folder), "--json")
    assert clean.returncode == 0, clean.stderr
    removed = json.loads(clean.stdout)
    assert set(removed["images"]) == set(stack.images.values())
    assert not adapter.project_containers(stack.project)
    assert not any(adapter.image_exists(image) for image in stack.images.values())
    with ServiceClient(config=load_config()) as client:
        for deployment_id in (summary["externalDeployment"]["id"], summary["managedDeployment"]["id"]):
            assert deployment_id in removed["deployments"]
            try:
                assert client.get_deployment(deployment_id)["desiredState"] == "deleted"
            except ServiceError as exc:
                assert exc.status_code == 404
    # The environment stack is not the workshop's to stop without --all.
    assert all(s.ok for s in EnvironmentStack(load_config()).status())
