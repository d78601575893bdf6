"""Scoped tokens: a reader writes nothing, a deployer sets no plugin command, revoked tokens stop at once."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from bosun_local.cli import cli
from tests.support.service import running_service

WRITE_METHODS = ("post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """Run one service for the module; yield (url, admin token, data dir)."""
    home = tmp_path_factory.mktemp("scopes")
    with running_service(home) as (url, token):
        yield url, token, home


def _token(home: Path, name: str, scope: str) -> str:
    result = CliRunner().invoke(cli, ["tokens", "create", "--name", name, "--scope", scope, "--json"],
                                env={"BOSUN_HOME": str(home)})
    assert result.exit_code == 0, result.output
    return str(json.loads(result.output)["token"])


def _call(url: str, token: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(method, url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30,
                         **kwargs)  # type: ignore[arg-type]


def test_reader_gets_403_on_every_write_route(service: tuple[str, str, Path]) -> None:
    url, admin, home = service
    reader = _token(home, "dashboard", "reader")
    spec = httpx.get(url + "/openapi.json", timeout=30).json()
    writes = [(m.upper(), re.sub(r"\{[^}]+\}", "x", p)) for p, ops in spec["paths"].items()
              for m in ops if m in WRITE_METHODS]
    assert len(writes) > 30  # the whole API, other components' routes included
    for method, path in writes:
        response = _call(url, reader, method, path, json={})
        assert response.status_code == 403, (method, path, response.text)
        detail = response.json()["detail"]
        assert "'dashboard' has scope reader" in detail and path in detail and "tokens create" in detail
    # Reads are open to it, and the admin (data-dir) token still does everything.
    assert _call(url, reader, "GET", "/api/v1/deployments").status_code == 200
    assert _call(url, admin, "POST", "/api/v1/events/purge", json={}).status_code != 403


def test_deployer_cannot_run_commands_reporter_only_reports(service: tuple[str, str, Path]) -> None:
    url, admin, home = service
    deployer = _token(home, "ci-deployer", "deployer")
    body = {"name": "evil", "platform": "test", "command": "sh -c 'id; docker version'"}
    response = _call(url, deployer, "POST", "/api/v1/environments", json=body)
    assert response.status_code == 403 and "scope deployer" in response.json()["detail"]
    assert not [e for e in _call(url, admin, "GET", "/api/v1/environments").json() if e["name"] == "evil"]
    # A deployer may deploy (validation answers, not the scope check), but not change notifications or settings.
    assert _call(url, deployer, "POST", "/api/v1/deployments", json={}).status_code == 422
    assert _call(url, deployer, "PATCH", "/api/v1/settings", json={}).status_code == 403
    reporter = _token(home, "monitoring", "reporter")
    assert _call(url, reporter, "POST", "/api/v1/monitoring/ingest", json={}).status_code == 422
    assert _call(url, reporter, "POST", "/api/v1/deployments", json={}).status_code == 403
    assert _call(url, reporter, "POST", "/api/v1/actions/claim", json={}).status_code == 403
    agent = _token(home, "mgmt", "agent")
    assert _call(url, agent, "POST", "/api/v1/actions/claim", json={"agentId": "a"}).status_code in (200, 204)
    assert _call(url, agent, "POST", "/api/v1/packages", json={}).status_code == 403
    # It counts the requests traefik failed without a PPS as system errors (issue 17): it may ingest.
    assert _call(url, agent, "POST", "/api/v1/monitoring/ingest", json={}).status_code == 422
    assert _call(url, agent, "POST", "/api/v1/environments", json=body).status_code == 403
    # The admin may: the check is the scope, not the command.
    created = _call(url, admin, "POST", "/api/v1/environments", json={**body, "name": "ops"})
    assert created.status_code == 201, created.text


def test_list_and_revoke(service: tuple[str, str, Path]) -> None:
    url, _admin, home = service
    token = _token(home, "short-lived", "reader")
    assert _call(url, token, "GET", "/api/v1/packages").status_code == 200
    env = {"BOSUN_HOME": str(home)}
    listed = json.loads(CliRunner().invoke(cli, ["tokens", "list", "--json"], env=env).output)
    row = next(r for r in listed if r["name"] == "short-lived")
    assert row["scope"] == "reader" and "token" not in row and "sha256" not in row
    assert token not in (home / "tokens.json").read_text()  # kept hashed
    assert (home / "tokens.json").stat().st_mode & 0o777 == 0o600
    assert CliRunner().invoke(cli, ["tokens", "revoke", "short-lived"], env=env).exit_code == 0
    assert _call(url, token, "GET", "/api/v1/packages").status_code == 401
    bad = CliRunner().invoke(cli, ["tokens", "create", "--name", "x", "--scope", "root"], env=env)
    assert bad.exit_code == 2 and "root" in bad.output
