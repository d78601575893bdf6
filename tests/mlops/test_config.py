"""Settings: environment variables win over code; legacy names and set_channel_config strings work."""
from __future__ import annotations

from pathlib import Path

import pytest

from bosun_local.errors import ConfigError
from bosun_local.mlops import MLOps, config
from bosun_local.spool.filesystem.writer import FilesystemChannel
from bosun_local.spool.simple import MemoryChannel

ENV_NAMES = [*config.KEYS, *config.LEGACY_NAMES]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_environment_overrides_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLOPS_DEPLOYMENT_ID", "dep-env")
    monkeypatch.setenv("MLOPS_MODEL_ID", "model-env")
    monkeypatch.setenv("MLOPS_SPOOLER_TYPE", "filesystem")
    monkeypatch.setenv("MLOPS_FILESYSTEM_DIRECTORY", str(tmp_path / "env-spool"))
    mlops = MLOps().set_deployment_id("dep-code").set_model_id("model-code").set_memory_spooler().init()
    try:
        assert isinstance(mlops.channel, FilesystemChannel)
        assert mlops.settings is not None and mlops.settings.sources["MLOPS_DEPLOYMENT_ID"] == "env"
        mlops.report_deployment_stats(1, 1.0)
    finally:
        assert mlops.shutdown(timeout_sec=10)
    text = (tmp_path / "env-spool" / "fs_spool.1").read_text()
    assert '"deploymentId":"dep-env"' in text and '\\"modelId\\":\\"model-env\\"' in text


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MLOPS_OUTPUT_TYPE": "OUTPUT_DIR", "MLOPS_SPOOLER_DIR_PATH": "/x"}, ("FILESYSTEM", "/x", None)),
        ({"MLOPS_SPOOLER_TYPE": "RABBIT_MQ", "MLOPS_RABBITMQ_URL": "amqp://h"}, ("RABBITMQ", None, "amqp://h")),
        ({"MLOPS_SPOOLER_TYPE": "rabbitmq", "MLOPS_RABBITMQ_QUEUE_URL": "amqp://new",
          "MLOPS_RABBITMQ_URL": "amqp://old"}, ("RABBITMQ", None, "amqp://new")),
    ],
)
def test_legacy_names(env: dict[str, str], expected: tuple[str, str | None, str | None]) -> None:
    settings = config.resolve({}, env)
    got = (settings["MLOPS_SPOOLER_TYPE"], settings["MLOPS_FILESYSTEM_DIRECTORY"], settings["MLOPS_RABBITMQ_QUEUE_URL"])
    assert got == expected


def test_defaults() -> None:
    settings = config.resolve({}, {})
    assert settings["MLOPS_RABBITMQ_QUEUE_NAME"] == "mlops"
    assert settings["MLOPS_ASYNC_REPORTING"] is True
    assert settings["MLOPS_SPOOLER_TYPE"] is None


def test_channel_config_string() -> None:
    values = config.parse_channel_config(
        "spooler_type=filesystem;directory=/tmp/spool;MLOPS_FILESYSTEM_MAX_NUM_FILES=3;"
        "report_queue_max_size=50;MLOPS_SPOOLER_MAX_FILES=4", {}
    )
    assert values == {
        "MLOPS_SPOOLER_TYPE": "FILESYSTEM",
        "MLOPS_FILESYSTEM_DIRECTORY": "/tmp/spool",
        "MLOPS_FILESYSTEM_MAX_NUM_FILES": 4,
        "MLOPS_REPORT_QUEUE_MAX_SIZE": 50,
    }
    custom = config.parse_channel_config(
        "queue_url:amqp://u:p@h:1/%2F|queue_name:q", {"MLOPS_SPOOLER_CONFIG_RECORD_DELIMITER": "|",
                                                      "MLOPS_SPOOLER_CONFIG_KEY_VALUE_SEPARATOR": ":"}
    )
    assert custom == {"MLOPS_RABBITMQ_QUEUE_URL": "amqp://u:p@h:1/%2F", "MLOPS_RABBITMQ_QUEUE_NAME": "q"}


def test_channel_config_reaches_the_channel() -> None:
    mlops = MLOps().set_deployment_id("d").set_model_id("m").set_channel_config(
        "spooler_type=MEMORY;buffer_size=7;async_reporting=false").init()
    try:
        assert isinstance(mlops.channel, MemoryChannel)
        assert mlops._buffer is not None and mlops._buffer.max_records == 7
        mlops.report_deployment_stats(2, 3.0)
        # synchronous reporting: the record is written before report_* returns
        assert len(mlops.channel.lines) == 1
    finally:
        mlops.shutdown()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("spooler_type=KAFKAESQUE", "unknown spooler type 'KAFKAESQUE'"),
        ("no_such_key=1", "unknown reporting-library setting 'no_such_key'"),
        ("directory", "has no '='"),
        ("max_num_files=ten", "is not a number"),
        ("async_reporting=maybe", "is not a boolean"),
    ],
)
def test_bad_channel_config_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MLOps().set_channel_config(text)


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_REPORT_QUEUE_MAX_SIZE", "lots")
    with pytest.raises(ConfigError, match="environment variable MLOPS_REPORT_QUEUE_MAX_SIZE"):
        MLOps().set_deployment_id("d").set_model_id("m").set_memory_spooler().init()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda m: m.set_deployment_id("d").set_model_id("m"), "no spooler configured"),
        (lambda m: m.set_deployment_id("d").set_model_id("m").set_kafka_spooler("t"), "KAFKA spooler is not available"),
        (lambda m: m.set_deployment_id("d").set_model_id("m").set_channel_config("spooler_type=FILESYSTEM"),
         "has no directory"),
        (lambda m: m.set_deployment_id("d").set_model_id("m").set_channel_config("spooler_type=RABBITMQ"),
         "has no queue URL"),
    ],
)
def test_incomplete_configuration_fails_at_init(setup, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message) as info:
        setup(MLOps()).init()
    assert info.value.fix


def test_missing_ids_fail_at_the_report_call_as_in_datarobot_mlops() -> None:
    from bosun_local.mlops import DRApiException

    client = MLOps().set_memory_spooler().init()
    with pytest.raises(DRApiException, match="DEPLOYMENT_ID") as info:
        client.report_deployment_stats(1, 1.0)
    assert info.value.fix
    client.report_deployment_stats(1, 1.0, deployment_id="d", model_id="m")
    with pytest.raises(DRApiException, match="MODEL_ID"):
        client.report_deployment_stats(1, 1.0, deployment_id="d")
    client.report_deployment_metric("cm", 1.0, deployment_id="d")  # a deployment metric needs no model
    assert client.shutdown()
