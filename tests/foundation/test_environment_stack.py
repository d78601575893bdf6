"""The environment stack on the real engine: up -> healthy -> traefik answers -> down leaves nothing."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from bosun_local.config import load_config
from bosun_local.engine import adapter
from bosun_local.envstack.environment import EnvironmentStack
from bosun_local.errors import EngineError
from tests.conftest import write_test_config
from tests.support.net import free_port

pytestmark = pytest.mark.docker


def bosun(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bosun_local", *args], capture_output=True, text=True, timeout=300)


def test_up_healthy_then_down_leaves_nothing(stack_images: None, bosun_home: Path) -> None:
    name = f"bltest{uuid.uuid4().hex[:6]}"
    api_port = free_port()  # traefik's API published (off by default: tests/security checks that side)
    values = write_test_config(bosun_home, name, traefikApiPortMapping=[f"127.0.0.1:{api_port}:8080"])
    try:
        result = bosun("up", "--json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert {s["service"]: s["health"] for s in report["services"]} == {
            "docker-proxy": "healthy", "traefik": "healthy", "rabbitmq": "healthy", "service": "healthy",
            "management-agent": "healthy", "monitoring-agent": "healthy", "watchdog": "none"}
        with urllib.request.urlopen(f"{values['serviceUrl']}/health", timeout=5) as response:
            assert response.status == 200
        rendered = (bosun_home / "stacks/environment/compose.yaml").read_text()
        assert "guest" not in rendered
        try:
            urllib.request.urlopen(f"{values['outfacingPredictionURLPrefix']}/", timeout=5)
        except urllib.error.HTTPError as exc:  # traefik answers 404 when no route matches: it answered
            assert exc.code == 404
            assert exc.headers["Content-Type"].startswith("text/plain")
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/version", timeout=5) as response:
            assert response.status == 200 and "Version" in json.loads(response.read())
        status = bosun("status", "--json")
        assert status.returncode == 0 and json.loads(status.stdout)["healthy"] is True
        # The service's environments and the platform each deploys to.
        assert [(e["name"], e["platform"], e["default"]) for e in json.loads(status.stdout)["environments"]] == [
            ("docker", "docker", True)]
        # Every component stops on SIGTERM by itself: none waits out the engine's grace period to be killed.
        containers = adapter.project_containers(name)
        subprocess.run(["docker", "stop", "--time", "30", *containers], check=True, capture_output=True, timeout=120)
        exits = {c: subprocess.run(["docker", "inspect", "--format", "{{.State.ExitCode}}", c], capture_output=True,
                                   text=True, check=True).stdout.strip() for c in containers}
        assert set(exits.values()) == {"0"}, exits
    finally:
        down = bosun("down", "--volumes")
    assert down.returncode == 0, down.stderr
    assert adapter.project_containers(name) == []
    assert adapter.project_networks(name) == []
    status = bosun("status", "--json")
    assert status.returncode == 1
    assert {s["state"] for s in json.loads(status.stdout)["services"]} == {"absent"}
    assert json.loads(status.stdout)["environments"] is None  # no service to ask


def test_failing_compose_call_becomes_our_error_with_stderr(docker_engine: None, tmp_path: Path) -> None:
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text("services:\n  web:\n    image: bosun-local/does-not-exist:0\n")
    project = adapter.ComposeProject(f"bltest{uuid.uuid4().hex[:6]}", compose_file)
    with pytest.raises(EngineError) as err:
        try:
            project.up(wait=False)
        finally:
            project.down()  # compose creates the project's network before it fails on the image
    text = str(err.value)
    assert "starting Compose project" in text
    assert "bosun-local/does-not-exist" in text  # compose's own stderr made it into our message
    assert err.value.fix


def test_up_refuses_when_an_image_is_missing(docker_engine: None, bosun_home: Path) -> None:
    write_test_config(bosun_home, f"bltest{uuid.uuid4().hex[:6]}", rabbitmqImage="bosun-local/nope:0")
    with pytest.raises(EngineError) as err:
        EnvironmentStack(load_config()).up(wait=False)
    assert "bosun-local/nope:0" in err.value.message
    assert "images build" in (err.value.fix or "")


def test_new_credentials_work_on_an_older_rabbitmq_volume(stack_images: None, bosun_home: Path) -> None:
    import pika

    write_test_config(bosun_home, f"bltest{uuid.uuid4().hex[:6]}")
    try:
        assert bosun("up", "--services", "rabbitmq").returncode == 0
        assert bosun("down").returncode == 0  # the volume, and the user in it, stay
        (bosun_home / "secrets.yml").unlink()  # as if the data dir were new: new generated password
        result = bosun("up", "--services", "rabbitmq")
        assert result.returncode == 0, result.stderr
        url = EnvironmentStack(load_config()).rabbitmq_url(host_side=True)
        connection = pika.BlockingConnection(pika.URLParameters(url))
        assert connection.is_open
        connection.close()
    finally:
        bosun("down", "--volumes")
