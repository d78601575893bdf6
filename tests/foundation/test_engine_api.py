"""Container reads over the Engine API (the agent's every-few-seconds path) against the real engine and proxy."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bosun_local.engine import adapter, engine_api
from bosun_local.errors import EngineError
from tests.support.docker_proxy import running_proxy

pytestmark = pytest.mark.docker
IMAGE = "bosun-local/base:bookworm"


@pytest.fixture(scope="module")
def labelled() -> Iterator[dict[str, str]]:
    """Run two containers with a test label (one with a healthcheck, one exited); yield the label."""
    label = {"io.bosun-local.test-engine-api": str(os.getpid())}
    names = [f"bosun-engine-api-{os.getpid()}-{n}" for n in ("up", "done")]
    common = ["docker", "run", "-d", "--label", f"io.bosun-local.test-engine-api={os.getpid()}"]
    try:
        subprocess.run([*common, "--name", names[0], "--health-cmd", "true", "--health-interval", "1s", IMAGE,
                        "sleep", "300"], check=True, capture_output=True)
        subprocess.run([*common, "--name", names[1], IMAGE, "sh", "-c", "exit 3"], check=True, capture_output=True)
        subprocess.run(["docker", "wait", names[1]], check=True, capture_output=True, timeout=60)
        yield label
    finally:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)


def test_the_api_reads_what_the_cli_reads(labelled: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    by_api = adapter.containers_with_labels(labelled)
    monkeypatch.setattr(engine_api, "local_socket", lambda: None)  # the CLI path, as for a remote engine
    by_cli = adapter.containers_with_labels(labelled)
    assert [c.name for c in by_api] == [c.name for c in by_cli] and len(by_api) == 2
    for api, cli in zip(by_api, by_cli, strict=True):
        assert (api.id, api.labels, api.status, api.exit_code, api.started_at, api.addresses) == (
            cli.id, cli.labels, cli.status, cli.exit_code, cli.started_at, cli.addresses)
    done = next(c for c in by_api if c.name.endswith("-done"))
    assert done.status == "exited" and done.exit_code == 3 and done.health is None
    assert adapter.containers_with_labels({"io.bosun-local.test-engine-api": "nobody"}) == []


def test_through_the_proxy_and_its_refusals(labelled: dict[str, str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with running_proxy(tmp_path) as sockets:
        monkeypatch.setenv("DOCKER_HOST", f"unix://{sockets['agent']}")
        assert engine_api.local_socket() == str(sockets["agent"])
        assert len(adapter.containers_with_labels(labelled)) == 2
        assert engine_api.get(str(sockets["agent"]), "/containers/no-such-container/json", "inspecting") is None
        with pytest.raises(EngineError) as refused:
            engine_api.get(str(sockets["traefik"]), "/volumes", "listing volumes")
        assert "HTTP 403" in refused.value.message and "not allowed for traefik" in refused.value.message
    with pytest.raises(EngineError) as gone:
        engine_api.get(str(sockets["agent"]), "/containers/json", "listing containers")
    assert f"unix://{sockets['agent']}" in gone.value.message and "engine ensure" in (gone.value.fix or "")


def test_when_the_cli_would_go_elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    assert engine_api.local_socket() is None
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'nothing.sock'}")
    assert engine_api.local_socket() is None
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONTEXT", "remote")
    assert engine_api.local_socket() is None
    monkeypatch.delenv("DOCKER_CONTEXT")
    (tmp_path / "config.json").write_text('{"currentContext": "remote"}')
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert engine_api.local_socket() is None
    (tmp_path / "config.json").write_text("{}")
    assert engine_api.local_socket() == engine_api.DEFAULT_SOCKET
