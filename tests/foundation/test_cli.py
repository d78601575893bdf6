"""CLI behaviour: exit codes, doctor output, images cache."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def bosun(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bosun_local", *args], capture_output=True, text=True, timeout=600)


def test_usage_error_exits_2() -> None:
    result = bosun("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr


def test_config_error_exits_1_with_fix(bosun_home: Path) -> None:
    (bosun_home / "bosun-local.yaml").write_text("dockerNetwork: 3\n")
    result = bosun("doctor")
    assert result.returncode == 1
    assert "key 'dockerNetwork' must be a str" in result.stderr
    assert "fix:" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.docker
def test_doctor_json_reports_each_check(stack_images: None, bosun_home: Path) -> None:
    result = bosun("doctor", "--json")
    report = json.loads(result.stdout)
    names = {c["name"] for c in report["checks"]}
    assert {"engine", "compose", "data dir"} <= names
    assert any(n.startswith("image ") for n in names) and any(n.startswith("port ") for n in names)
    assert all(c["fix"] for c in report["checks"] if not c["ok"])
    assert result.returncode == (0 if report["ok"] else 1)


@pytest.mark.docker
def test_second_image_build_is_cached(stack_images: None) -> None:
    # The first build brings the images up to date with this tree (another checkout may have retagged them).
    assert bosun("images", "build", "--json").returncode == 0
    result = bosun("images", "build", "--json")
    assert result.returncode == 0, result.stderr
    actions = {r["key"]: r["action"] for r in json.loads(result.stdout)}
    # The SQS server and Prometheus images are built only for `spool: sqs` / `up --with prometheus`.
    assert actions == {"baseImage": "cached", "traefikImage": "cached", "rabbitmqImage": "cached",
                       "agentImage": "cached", "sqsImage": "skipped", "prometheusImage": "skipped"}
