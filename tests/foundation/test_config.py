"""Configuration: layering, and errors that name the file, line and key."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bosun_local.config import env_name, load_config
from bosun_local.errors import ConfigError


def test_defaults_apply_without_a_file(bosun_home: Path) -> None:
    config = load_config()
    assert config.data_dir == bosun_home
    assert config["dockerNetwork"] == "bosun"
    assert config["traefikPortMapping"] == ["127.0.0.1:8080:80"]


def test_file_then_environment_override(bosun_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (bosun_home / "bosun-local.yaml").write_text("dockerNetwork: mynet\nwaitTimeoutSec: 30\n")
    monkeypatch.setenv("BOSUN_WAIT_TIMEOUT_SEC", "45")
    config = load_config()
    assert config["dockerNetwork"] == "mynet"
    assert config["waitTimeoutSec"] == 45


def test_env_name_maps_camel_case() -> None:
    assert env_name("traefikImage") == "BOSUN_TRAEFIK_IMAGE"
    assert env_name("outfacingPredictionURLPrefix") == "BOSUN_OUTFACING_PREDICTION_URLPREFIX"


def test_unknown_key_names_file_line_and_suggestion(bosun_home: Path) -> None:
    path = bosun_home / "bosun-local.yaml"
    path.write_text("projectName: x\n\ntraefikImg: foo\n")
    with pytest.raises(ConfigError) as err:
        load_config()
    assert f"{path}, line 3: unknown key 'traefikImg'" in err.value.message
    assert "traefikImage" in (err.value.fix or "")


def test_wrong_type_names_key_and_line(bosun_home: Path) -> None:
    (bosun_home / "bosun-local.yaml").write_text("waitTimeoutSec: soon\n")
    with pytest.raises(ConfigError) as err:
        load_config()
    assert "line 1: key 'waitTimeoutSec' must be a int" in err.value.message


def test_invalid_yaml_names_line(bosun_home: Path) -> None:
    (bosun_home / "bosun-local.yaml").write_text("projectName: x\ndockerNetwork: [a, b\n")
    with pytest.raises(ConfigError) as err:
        load_config()
    assert "invalid YAML" in err.value.message and "line" in err.value.message


def test_bad_environment_value(bosun_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOSUN_MONITORING_ENABLED", "[1, 2]")
    with pytest.raises(ConfigError) as err:
        load_config()
    assert "BOSUN_MONITORING_ENABLED" in err.value.message


def test_secrets_generated_once_and_private(bosun_home: Path) -> None:
    config = load_config()
    first = config.secrets()
    assert first["rabbitmqPassword"] and first["rabbitmqPassword"] != "guest"
    assert load_config().secrets() == first
    mode = stat.S_IMODE((bosun_home / "secrets.yml").stat().st_mode)
    assert mode == 0o600
