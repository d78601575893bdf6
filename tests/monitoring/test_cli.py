"""`bosun-local monitor ...`: exit codes and messages of bad configurations, depth of a real queue."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.rabbitmq import RabbitMQBroker


def bosun(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bosun_local", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def clean_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "BOSUN_"))}
    return {**env, "BOSUN_HOME": str(tmp_path / "home"), **variables}


def test_missing_config_file_fails_with_the_path_and_a_fix(tmp_path: Path) -> None:
    result = bosun("monitor", "run", "--config", str(tmp_path / "nope.yaml"), env=clean_env(tmp_path))
    assert result.returncode == 1
    assert "nope.yaml" in result.stderr and "fix:" in result.stderr


def test_no_channel_and_no_token_is_a_clear_failure(tmp_path: Path) -> None:
    result = bosun("monitor", "run", env=clean_env(tmp_path))
    assert result.returncode == 1
    assert "no API token" in result.stderr and "MLOPS_API_TOKEN" in result.stderr


def test_depth_needs_a_rabbitmq_channel(tmp_path: Path) -> None:
    env = clean_env(tmp_path, MLOPS_API_TOKEN="t", MLOPS_SPOOLER_TYPE="FILESYSTEM",
                    MLOPS_FILESYSTEM_DIRECTORY=str(tmp_path / "spool"))
    result = bosun("monitor", "depth", env=env)
    assert result.returncode == 2 and "RABBITMQ_SPOOL" in result.stderr


def test_depth_reports_the_queue_and_the_wanted_replicas(broker: RabbitMQBroker, queue_name: str,
                                                         tmp_path: Path) -> None:
    from tests.monitoring.test_agent_rabbitmq import publish

    publish(broker, queue_name, [b"{}"] * 1200)
    env = clean_env(tmp_path, MLOPS_API_TOKEN="t", MLOPS_SPOOLER_TYPE="RABBITMQ",
                    MLOPS_RABBITMQ_QUEUE_URL=broker.url, MLOPS_RABBITMQ_QUEUE_NAME=queue_name)
    result = bosun("monitor", "depth", "--json", env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["queue"], doc["depth"], doc["deadLetters"], doc["wantedReplicas"]) == (queue_name, 1200, 0, 3)
