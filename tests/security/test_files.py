"""Secrets and state under the data dir are the owner's alone; compose files carry no secret inline."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bosun_local.config import load_config
from bosun_local.envstack.environment import EnvironmentStack, adopt_traefik_log, prepare_data_dir
from bosun_local.service.storage import open_storage


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rendered_stack_keeps_secrets_in_private_env_files(bosun_home: Path) -> None:
    config = load_config()
    stack = EnvironmentStack(config)
    compose = stack.render()
    password = config.secrets()["rabbitmqPassword"]
    text = compose.read_text()
    assert password not in text and "env_file" in text
    assert _mode(compose) == 0o600
    env_files = sorted(stack.env_dir.glob("*.env"))
    assert [p.name for p in env_files] == ["management-agent.env", "monitoring-agent.env", "rabbitmq.env"]
    assert all(_mode(p) == 0o600 for p in env_files)
    assert f"RABBITMQ_DEFAULT_PASS='{password}'" in (stack.env_dir / "rabbitmq.env").read_text()
    assert _mode(config.data_dir / "secrets.yml") == 0o600
    compose.chmod(0o644)
    stack.render()  # unchanged bytes are not rewritten, but a widened mode is closed again
    assert _mode(compose) == 0o600


def test_database_and_data_dir_are_private(bosun_home: Path) -> None:
    storage = open_storage(bosun_home)
    storage.close()
    prepare_data_dir(bosun_home)
    assert _mode(bosun_home / "bosun.db") == 0o600
    assert _mode(bosun_home) == 0o700


def test_a_log_file_root_traefik_wrote_is_handed_to_the_data_dirs_owner(tmp_path: Path) -> None:
    import os

    from bosun_local.contracts.layout import DataDir

    if os.geteuid() != 0:
        pytest.fail("this test chowns files: run it as root (CI does)")
    home = tmp_path / "home"
    log_dir = DataDir(home).traefik_log_dir
    log_dir.mkdir(parents=True)
    os.chown(home, 12345, 12345)
    (log_dir / "access.json").write_text('{"status": 502}\n')  # written by root, as traefik did before
    adopt_traefik_log(home)
    st = (log_dir / "access.json").stat()
    assert (st.st_uid, st.st_gid) == (12345, 12345)
    assert (log_dir / "access.json").read_text() == '{"status": 502}\n'
