"""Bearer-token auth on every route, the token file, and a restart (even a kill) losing nothing."""
from __future__ import annotations

import os
import signal
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest

from bosun_local.client import ServiceClient, ServiceError
from tests.support.service import free_port, start_service, stop_service, wait_healthy

from .helpers import FAST_ENV, Service, write_package

UNAUTHORIZED = ("missing or wrong token: send `Authorization: Bearer <token>` (or `Token <token>`) with the token "
                "from the service data dir's `token` file, or one made with `bosun-local tokens create`")


def _concrete(path: str) -> str:
    return path.replace("{ref}", "x").replace("{action_id}", "x").replace("{rule_id}", "x")


def test_every_route_but_health_needs_the_token(service: Service) -> None:
    spec = httpx.get(f"{service.url}/openapi.json").json()
    checked = 0
    http = httpx.Client(base_url=service.url)
    for path, methods in spec["paths"].items():
        for method in methods:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": service.token}):
                response = http.request(method.upper(), _concrete(path), headers=headers)
                if path == "/health":
                    assert response.status_code == 200
                    continue
                assert response.status_code == 401, (method, path, headers)
                assert response.json() == {"detail": UNAUTHORIZED}
                checked += 1
    http.close()
    assert checked >= 3 * 30


def test_401_does_not_leak_existence(service: Service, package_dir: Path) -> None:
    package = service.client.register_package(package_dir)
    wrong = {"Authorization": "Bearer nope"}
    existing = httpx.get(f"{service.url}/api/v1/packages/{package['id']}", headers=wrong)
    missing = httpx.get(f"{service.url}/api/v1/packages/{'0' * 24}", headers=wrong)
    unknown_route = httpx.get(f"{service.url}/api/v1/nothing-here", headers=wrong)
    assert existing.status_code == missing.status_code == unknown_route.status_code == 401
    assert existing.content == missing.content == unknown_route.content


def test_client_reports_refused_token(service: Service) -> None:
    with ServiceClient(service.url, "wrong") as client, pytest.raises(ServiceError) as err:
        client.list_packages()
    assert err.value.status_code == 401 and "refused the token" in err.value.message


def test_token_file_is_private(service: Service) -> None:
    token_file = service.home / "token"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert token_file.read_text().strip() == service.token and len(service.token) >= 32


def test_unreachable_service_is_a_clear_error() -> None:
    from bosun_local.errors import BosunError

    with ServiceClient(f"http://127.0.0.1:{free_port()}", "t") as client, pytest.raises(BosunError) as err:
        client.health()
    assert "cannot reach the MLOps service" in err.value.message and "bosun-local up" in (err.value.fix or "")


@pytest.mark.faults  # issue 17's fault suite (`make faults`)
def test_kill_between_writes_loses_nothing(tmp_path: Path, diabetes_frame: pd.DataFrame) -> None:
    home = tmp_path / "home"
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def boot() -> tuple[object, ServiceClient]:
        proc = start_service(home, port, FAST_ENV)
        wait_healthy(proc, url, home)
        return proc, ServiceClient(url, (home / "token").read_text().strip())

    proc, client = boot()
    token = client.token
    package = client.register_package(write_package(tmp_path / "p", diabetes_frame))
    stop_service(proc, hard=True)  # SIGKILL: no shutdown hook runs

    proc, client = boot()
    assert client.token == token
    created = client.create_deployment(package["id"], "survivor", key_value_config={"k": "v"})
    dep = created["deployment"]
    claimed = client.claim_action("agent-1", lease_sec=300)
    assert claimed is not None and claimed["id"] == created["action"]["id"]
    stop_service(proc, hard=True)

    proc, client = boot()
    assert client.claim_action("agent-2") is None  # the lease survived the crash
    client.complete_action(claimed["id"], "agent-1", {"status": "passing", "msg": "up", "state": "ready"})
    client.ingest([{"recordId": "r-1", "deploymentId": dep["id"], "modelId": dep["modelId"],
                    "minute": "2026-01-01T00:00:00Z", "kind": "stats", "predictions": 4}])
    client.post_event("custom", "warning", "remember me", deployment_id=dep["id"])
    stop_service(proc, hard=True)

    proc, client = boot()
    try:
        assert [e["name"] for e in client.list_environments()] == ["docker"]  # not created twice
        assert client.get_package(package["id"])["hasBaseline"]
        assert client.get_deployment("survivor")["state"] == "ready"
        assert client.get_deployment("survivor")["keyValueConfig"] == {"k": "v"}
        assert client.get_action(claimed["id"])["status"] == "done"
        assert client.ingest([{"recordId": "r-1", "deploymentId": dep["id"], "modelId": dep["modelId"],
                               "minute": "2026-01-01T00:00:00Z", "kind": "stats", "predictions": 4}]) == {
            "stored": 0, "duplicates": 1}
        assert [e["message"] for e in client.list_events(search="remember me")] == ["remember me"]
    finally:
        stop_service(proc)


def test_default_environment_follows_config_until_edited(tmp_path: Path, db_env: dict[str, str]) -> None:
    from .helpers import start

    home = tmp_path / "home"
    with start(home, env=db_env) as svc:
        assert svc.client.get_environment("docker")["pluginConfig"]["dockerNetwork"] == "bosun"
    with start(home, env={"BOSUN_DOCKER_NETWORK": "other-net", **db_env}) as svc:
        env = svc.client.get_environment("docker")
        assert env["pluginConfig"]["dockerNetwork"] == "other-net"
        assert "dockerNetwork" in svc.client.list_events(types=["environment_updated"])[0]["message"]
        svc.client.update_environment("docker", pluginConfig={**env["pluginConfig"], "dockerNetwork": "mine"})
    with start(home, env={"BOSUN_DOCKER_NETWORK": "third-net", **db_env}) as svc:
        assert svc.client.get_environment("docker")["pluginConfig"]["dockerNetwork"] == "mine"  # the user's edit wins


def test_newer_schema_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    import sqlite3

    from bosun_local.errors import BosunError

    home = tmp_path / "home"
    home.mkdir()
    with sqlite3.connect(home / "bosun.db") as conn:
        conn.execute("PRAGMA user_version=99")
    port = free_port()
    proc = start_service(home, port)
    try:
        with pytest.raises(BosunError) as err:
            wait_healthy(proc, f"http://127.0.0.1:{port}", home)
        assert "exited with code 1" in err.value.message
        assert "has schema version 99, newer than this bosun-local knows" in err.value.message
    finally:
        stop_service(proc)


def test_a_stopping_service_answers_its_long_polls_and_exits_cleanly(tmp_path: Path, db_env: dict[str, str]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_service(tmp_path, port, {**FAST_ENV, **db_env})
    try:
        wait_healthy(proc, url, tmp_path)
        with ServiceClient(url, (tmp_path / "token").read_text().strip()) as client, ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(client.claim_action, "long-poller", 60, None, 30)
            time.sleep(1.0)
            assert not waiting.done()
            # uvicorn waits out open requests on SIGTERM; stop_service SIGKILLs after 10 s, well inside the 30 s poll.
            stop_service(proc)
            assert waiting.result(timeout=30) is None  # answered "nothing to claim", not cut off
        # uvicorn re-raises the SIGTERM it handled once it has shut down; a SIGKILL (-9) would mean it hung.
        assert proc.returncode in (0, -signal.SIGTERM)
    finally:
        stop_service(proc, hard=True)
