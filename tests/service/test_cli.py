"""The service's CLI commands, run as real processes against a running service."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from bosun_local.cli.main import cli as root
from bosun_local.errors import BosunError

from .helpers import Service, unique, write_package


@dataclass
class Run:
    """What a command did: exit code and its two streams."""

    returncode: int
    stdout: str
    stderr: str


def _env(service: Service) -> dict[str, str]:
    return {"BOSUN_HOME": str(service.home), "BOSUN_SERVICE_URL": service.url, "COLUMNS": "200"}


def cli(service: Service, *args: str) -> Run:
    """Run a command in process, rendering errors as `main()` does (message, fix, exit code)."""
    result = CliRunner().invoke(root, list(args), env=_env(service), standalone_mode=False, catch_exceptions=True)
    stderr = result.stderr
    code = result.exit_code
    if isinstance(result.exception, BosunError):
        stderr += f"error: {result.exception}"
        code = result.exception.exit_code
    elif isinstance(result.exception, click.ClickException):
        stderr += result.exception.format_message()
        code = result.exception.exit_code
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(code, result.stdout, stderr)


def cli_process(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real `bosun-local` entry point in a process."""
    return subprocess.run([sys.executable, "-m", "bosun_local", *args], env={**os.environ, **_env(service)},
                          capture_output=True, text=True, timeout=120)


def fake_agent(service: Service, outcome: dict, count: int = 1) -> threading.Thread:
    """Run `count` actions the way the management agent would, each finishing with `outcome`."""
    def work() -> None:
        done, deadline = 0, time.monotonic() + 60
        while done < count and time.monotonic() < deadline:
            action = service.client.claim_action("cli-test-agent", 30)
            if action is None:
                time.sleep(0.2)
                continue
            service.client.complete_action(action["id"], "cli-test-agent", outcome)
            done += 1

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_packages_commands(service: Service, tmp_path: Path, diabetes_frame: pd.DataFrame) -> None:
    name = unique("cli-pkg")
    registered = cli(service, "packages", "register", str(write_package(tmp_path / "p", diabetes_frame)),
                     "--name", name, "--json")
    assert registered.returncode == 0, registered.stderr
    package = json.loads(registered.stdout)
    assert package["name"] == name and package["hasBaseline"]
    listed = json.loads(cli(service, "packages", "list", "--json").stdout)
    assert package["id"] in [p["id"] for p in listed]
    shown = cli(service, "packages", "show", name)
    assert shown.returncode == 0 and package["id"] in shown.stdout and "regression" in shown.stdout
    missing = cli(service, "packages", "register", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.yaml").write_text("targetName: y\ntargetType: regression\nfeatures: [a]\n")
    refused = cli_process(service, "packages", "register", str(broken))
    assert refused.returncode == 1
    assert "error: model package 'broken.tar.gz': has no model file" in refused.stderr


def test_deploy_wait_and_lifecycle(service: Service, tmp_path: Path, diabetes_frame: pd.DataFrame) -> None:
    package = service.client.register_package(write_package(tmp_path / "p", diabetes_frame), name=unique("cli"))
    agent = fake_agent(service, {"status": "passing", "msg": "up", "state": "ready",
                                 "data": {"predictionUrl": "http://127.0.0.1:8080/deployments/x"}})
    name = unique("cli-dep")
    deployed = cli(service, "deploy", package["name"], "--name", name, "--kv", "replicas=2", "--kv", "tier=gold",
                   "--wait", "--json")
    agent.join(60)
    assert deployed.returncode == 0, deployed.stderr
    answer = json.loads(deployed.stdout)
    assert answer["action"]["status"] == "done" and answer["deployment"]["state"] == "ready"
    assert answer["deployment"]["keyValueConfig"] == {"replicas": 2, "tier": "gold"}

    listed = json.loads(cli(service, "deployments", "list", "--json").stdout)
    assert name in [d["name"] for d in listed]
    shown = json.loads(cli(service, "deployments", "show", name, "--json").stdout)
    assert shown["actions"][0]["type"] == "deployment_start"

    agent = fake_agent(service, {"status": "failing", "msg": "compose up failed: port busy", "state": "errored"})
    failed = cli_process(service, "deployments", "relaunch", name, "--wait")
    agent.join(60)
    assert failed.returncode == 1
    assert "deployment_relaunch of deployment" in failed.stderr and "port busy" in failed.stderr
    agent = fake_agent(service, {"status": "passing", "msg": "scaled 2 -> 3", "state": "ready"})
    scaled = cli(service, "deployments", "scale", name, "3", "--wait", "--json")
    agent.join(60)
    assert scaled.returncode == 0, scaled.stderr
    assert json.loads(scaled.stdout)["deployment"]["keyValueConfig"] == {"replicas": 3, "tier": "gold"}
    assert cli(service, "deployments", "scale", name, "0").returncode == 2  # usage: replicas from 1 to 64
    queued = cli(service, "deployments", "stop", name)
    assert queued.returncode == 0 and "deployment_stop for deployment" in queued.stdout
    assert cli(service, "deployments", "stop", name).stdout.count("already queued") == 1
    usage = cli_process(service, "deploy", package["id"], "--name", unique("x"), "--kv", "novalue")
    assert usage.returncode == 2 and "--kv 'novalue' is not key=value" in usage.stderr
    unknown = cli(service, "deployments", "show", "ghost")
    assert unknown.returncode == 1 and "deployment 'ghost' not found" in unknown.stderr


def test_events_stats_envs(service: Service, tmp_path: Path, diabetes_frame: pd.DataFrame) -> None:
    tag = unique("cli-ev")
    service.client.post_event("custom", "warning", f"first {tag}")
    service.client.post_event("custom", "failing", f"second {tag}")
    as_csv = cli(service, "events", "--search", tag, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["message"] for r in rows] == [f"first {tag}", f"second {tag}"]
    as_json = json.loads(cli(service, "events", "--search", tag, "--status", "failing", "--json").stdout)
    assert [e["message"] for e in as_json] == [f"second {tag}"]
    table = cli(service, "events", "--search", tag, "--since", "1h")
    assert table.returncode == 0 and f"second {tag}" in table.stdout
    bad = cli(service, "events", "--since", "someday")
    assert bad.returncode == 1 and "since 'someday' is not a time" in bad.stderr

    package = service.client.register_package(write_package(tmp_path / "p", diabetes_frame), name=unique("s"))
    dep = service.client.create_deployment(package["id"], unique("stats"), external=True)["deployment"]
    service.client.ingest([{"recordId": unique("r"), "deploymentId": dep["id"], "modelId": dep["modelId"],
                            "minute": time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime()), "kind": "stats",
                            "predictions": 7}])
    stats = json.loads(cli(service, "stats", dep["name"], "--window", "2h", "--json").stdout)
    assert stats["predictions"] == 7 and stats["window"] == 7200
    assert "service health" in cli(service, "stats", dep["id"]).stdout

    envs = json.loads(cli(service, "envs", "list", "--json").stdout)
    assert any(e["name"] == "docker" and e["isDefault"] for e in envs)
    assert "pluginConfig.dockerNetwork" in cli(service, "envs", "show", "docker").stdout


@pytest.mark.parametrize("args", [["notifications", "list", "--json"]])
def test_notifications_commands(service: Service, args: list[str]) -> None:
    added = cli(service, "notifications", "add", "http://127.0.0.1:9/hook", "--status", "failing", "--json")
    rule = json.loads(added.stdout)
    assert rule["statuses"] == ["failing"]
    assert rule["id"] in [r["id"] for r in json.loads(cli(service, *args).stdout)]
    assert cli(service, "notifications", "delete", rule["id"]).returncode == 0
