"""`spool: sqs` stacks: the moto SQS service, the agents' two-channel config, and nothing extra otherwise."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bosun_local.config import load_config
from bosun_local.envstack.environment import EnvironmentStack
from bosun_local.host import scaled_channels
from bosun_local.monitoring.config import AgentConfig, load_agent_file
from bosun_local.spool.rabbitmq.config import RabbitChannelConfig
from bosun_local.spool.sqs.config import SqsChannelConfig


def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **values: str) -> EnvironmentStack:
    monkeypatch.setenv("BOSUN_HOME", str(tmp_path))
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return EnvironmentStack(load_config())


def test_sqs_spool_adds_the_moto_service_and_a_two_channel_agent_config(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    env = stack(tmp_path, monkeypatch, BOSUN_SPOOL="sqs")
    assert "sqs" in env.services and env.images()["sqs"] == "bosun-local/sqs:5.2.5"
    compose = yaml.safe_load(env.render().read_text())
    assert compose["services"]["sqs"]["ports"] == ["127.0.0.1:4566:5000"]
    agent = compose["services"]["monitoring-agent"]
    assert agent["environment"]["MLOPS_AGENT_CONFIG_YAML"] == str(env.monitoring_agent_config)
    assert agent["depends_on"]["sqs"] == {"condition": "service_healthy"}
    config = load_agent_file(env.monitoring_agent_config, AgentConfig("http://service:8765", "t", ()))
    rabbit, sqs = config.channels
    assert isinstance(rabbit, RabbitChannelConfig) and rabbit.queue_url.split("@")[-1] == "rabbitmq:5672/%2F"
    assert isinstance(sqs, SqsChannelConfig) and sqs.queue_url == "http://sqs:5000/123456789012/mlops"
    assert env.urls()["sqsQueue"] == "http://127.0.0.1:4566/123456789012/mlops"
    # The management agent's backlog scaler reads the same queue from inside the stack's network.
    manager = compose["services"]["management-agent"]["environment"]
    assert (manager["BOSUN_SPOOL"], manager["BOSUN_SQS_QUEUE_URL"]) == ("sqs", "http://sqs:5000/123456789012/mlops")
    (scaled,) = scaled_channels(load_config())
    assert isinstance(scaled, SqsChannelConfig) and scaled.queue_url == env.urls()["sqsQueue"]


def test_real_aws_queue_runs_no_local_server_and_passes_credentials(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://sqs.eu-west-1.amazonaws.com/111122223333/mlops"
    env = stack(tmp_path, monkeypatch, BOSUN_SPOOL="sqs", BOSUN_SQS_QUEUE_URL=url)
    assert "sqs" not in env.services
    compose = yaml.safe_load(env.render().read_text())
    assert "sqs" not in compose["services"]
    assert compose["services"]["monitoring-agent"]["environment"]["AWS_ACCESS_KEY_ID"] == "${AWS_ACCESS_KEY_ID:-}"
    manager = compose["services"]["management-agent"]["environment"]
    assert (manager["BOSUN_SQS_QUEUE_URL"], manager["AWS_ACCESS_KEY_ID"]) == (url, "${AWS_ACCESS_KEY_ID:-}")
    config = load_agent_file(env.monitoring_agent_config, AgentConfig("http://service:8765", "t", ()))
    assert config.channels[1].queue_url == url


def test_default_rabbitmq_stack_has_no_sqs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = stack(tmp_path, monkeypatch)
    assert "sqs" not in env.services
    compose = yaml.safe_load(env.render().read_text())
    assert "sqs" not in compose["services"]
    assert "MLOPS_AGENT_CONFIG_YAML" not in compose["services"]["monitoring-agent"]["environment"]
    assert "BOSUN_SQS_QUEUE_URL" not in compose["services"]["management-agent"]["environment"]
    assert scaled_channels(load_config()) == []
    assert not env.monitoring_agent_config.exists()
