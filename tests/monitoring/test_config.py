"""Agent configuration: the seed's mlops.agent.conf.yaml, MLOPS_* variables, stack defaults and clear errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from bosun_local.errors import ConfigError
from bosun_local.monitoring.config import AgentConfig, load_agent_config, stack_defaults
from bosun_local.spool.filesystem.config import FsChannelConfig
from bosun_local.spool.rabbitmq.config import RabbitChannelConfig

SEED_CONF = """
mlopsUrl: "http://127.0.0.1:9999/"
apiToken: "tok"
verifySSL: true
httpTimeout: 30000
channelConfigs:
  - type: "FS_SPOOL"
    details: {name: "filesystem", spoolDirectoryPath: "/tmp/ta"}
  - type: "RABBITMQ_SPOOL"
    details: {name: "rabbit", queueName: "mlops", queueUrl: "amqp://u:p@127.0.0.1:5672/%2F"}
prefetch: 200
"""
BASE = AgentConfig(service_url="http://base", token="base-token", channels=())


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mlops.agent.conf.yaml"
    path.write_text(text)
    return path


def test_seed_shape_is_read(tmp_path: Path) -> None:
    config = load_agent_config(write(tmp_path, SEED_CONF), env={}, base=BASE)
    assert config.service_url == "http://127.0.0.1:9999" and config.token == "tok"
    assert config.channels == (FsChannelConfig(Path("/tmp/ta"), "filesystem"),
                               RabbitChannelConfig("amqp://u:p@127.0.0.1:5672/%2F", "mlops", "rabbit"))
    assert config.prefetch == 200
    assert config.channels[1].dead_letter_queue == "mlops.dead"
    assert "u:p" not in config.channels[1].describe()


def test_env_vars_override_the_file(tmp_path: Path) -> None:
    env = {"MLOPS_AGENT_CONFIG_YAML": str(write(tmp_path, SEED_CONF)), "MLOPS_SERVICE_URL": "http://env:1",
           "MLOPS_API_TOKEN": "env-token", "MLOPS_SPOOLER_TYPE": "RABBITMQ",
           "MLOPS_RABBITMQ_QUEUE_NAME": "other"}
    config = load_agent_config(None, env=env, base=BASE)
    assert (config.service_url, config.token) == ("http://env:1", "env-token")
    assert config.channels == (RabbitChannelConfig("amqp://u:p@127.0.0.1:5672/%2F", "other"),)


def test_env_vars_alone_configure_a_filesystem_agent() -> None:
    env = {"MLOPS_SPOOLER_TYPE": "FILESYSTEM", "MLOPS_FILESYSTEM_DIRECTORY": "/var/spool/x"}
    config = load_agent_config(None, env=env, base=BASE)
    assert config.channels == (FsChannelConfig(Path("/var/spool/x")),)


@pytest.mark.parametrize(("text", "env", "words"), [
    ("prefetchh: 3\n", {}, ["unknown key 'prefetchh'", "did you mean 'prefetch'"]),
    ("channelConfigs:\n  - type: SQS_SPOOL\n    details: {}\n", {}, ["SQS_SPOOL", "needs details.queueUrl"]),
    ("channelConfigs:\n  - type: KAFKA_SPOOL\n    details: {}\n", {}, ["KAFKA_SPOOL", "FS_SPOOL or SQS_SPOOL"]),
    ("channelConfigs:\n  - type: SQS_SPOOL\n    details: {queueUrl: mlops}\n", {}, ["not an SQS queue URL"]),
    ("channelConfigs:\n  - type: RABBITMQ_SPOOL\n    details: {queueName: q}\n", {}, ["queueUrl"]),
    ("channelConfigs: [\n", {}, ["invalid YAML", "line"]),
    ("prefetch: many\n", {}, ["prefetch must be a int"]),
    ("", {"MLOPS_SPOOLER_TYPE": "FILESYSTEM"}, ["MLOPS_FILESYSTEM_DIRECTORY"]),
    ("", {"MLOPS_SPOOLER_TYPE": "STDOUT"}, ["STDOUT", "RABBITMQ or FILESYSTEM or SQS"]),
    ("", {}, ["no channel to read"]),
])
def test_bad_configuration_names_the_problem_and_fix(tmp_path: Path, text: str, env: dict[str, str],
                                                     words: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_agent_config(write(tmp_path, text), env=env, base=BASE)
    message = str(caught.value)
    assert all(w in message for w in words), message
    assert caught.value.fix


def test_stack_defaults_use_the_environment(bosun_home: Path) -> None:
    (bosun_home / "token").write_text("stack-token\n")
    (bosun_home / "bosun-local.yaml").write_text("serviceUrl: http://127.0.0.1:7777\nrabbitmqQueueName: q1\n")
    (bosun_home / "secrets.yml").write_text("rabbitmqUser: bosun\nrabbitmqPassword: pw\n")
    config = stack_defaults()
    assert (config.service_url, config.token) == ("http://127.0.0.1:7777", "stack-token")
    channel = config.channels[0]
    assert isinstance(channel, RabbitChannelConfig)
    assert channel.queue_name == "q1" and channel.queue_url == "amqp://bosun:pw@127.0.0.1:5672/%2F"


def test_stack_defaults_without_secrets_never_invent_a_password(bosun_home: Path) -> None:
    assert stack_defaults().channels == ()
    assert not (bosun_home / "secrets.yml").exists()


def test_stack_defaults_take_rabbitmq_url_inside_the_stack(bosun_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment stack's monitoring-agent container sets these (the broker is `rabbitmq` on its network).
    monkeypatch.setenv("BOSUN_RABBITMQ_URL", "amqp://u:p@rabbitmq:5672/%2F")
    monkeypatch.setenv("BOSUN_SERVICE_URL", "http://service:8765")
    config = stack_defaults()
    assert config.service_url == "http://service:8765"
    assert config.channels == (RabbitChannelConfig("amqp://u:p@rabbitmq:5672/%2F", "mlops"),)
