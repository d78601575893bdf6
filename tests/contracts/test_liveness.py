"""Liveness files: each file has its own verdict, so one unwell agent cannot silence another in the process."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bosun_local.contracts.liveness import ALIVE_FILE_ENV, healthcheck_test, mark_alive, mark_unwell


def test_unwell_without_a_file_leaves_other_agents_alive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An agent with no liveness file that turns unwell must not stop another agent's file from being touched."""
    monkeypatch.delenv(ALIVE_FILE_ENV, raising=False)
    mark_unwell("traefik is missing")
    alive = tmp_path / "alive"
    monkeypatch.setenv(ALIVE_FILE_ENV, str(alive))
    mark_alive(min_interval=0)
    assert alive.exists()


def test_unwell_removes_the_file_and_clearing_restores_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While unwell the file is gone (the reason beside it); clearing touches it again at once."""
    alive = tmp_path / "alive"
    monkeypatch.setenv(ALIVE_FILE_ENV, str(alive))
    mark_alive(min_interval=0)
    mark_unwell("RabbitMQ unreachable")
    assert not alive.exists() and (tmp_path / "alive.why").read_text() == "RabbitMQ unreachable\n"
    mark_alive(min_interval=0)
    assert not alive.exists()
    mark_unwell(None)
    assert alive.exists() and not (tmp_path / "alive.why").exists()


@pytest.mark.parametrize("age_sec, healthy", [(0, True), (50, True), (70, False), (None, False)])
def test_the_healthcheck_reads_the_time_in_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    age_sec: int | None, healthy: bool) -> None:
    """The container's probe (bash, as Docker runs it) passes on a fresh file only; a missing one fails it."""
    alive = tmp_path / "alive"
    monkeypatch.setenv(ALIVE_FILE_ENV, str(alive))
    mark_alive(min_interval=0)
    if age_sec is None:
        alive.unlink()
    else:
        alive.write_text(f"{int(alive.read_text()) - age_sec}\n")
    test = healthcheck_test(str(alive), 60)
    assert test[:3] == ["CMD", "bash", "-c"]
    assert (subprocess.run(test[1:], capture_output=True).returncode == 0) is healthy
