"""Liveness files: each file has its own verdict, so one unwell agent cannot silence another in the process."""
from __future__ import annotations

from pathlib import Path

import pytest

from bosun_local.contracts.liveness import ALIVE_FILE_ENV, mark_alive, mark_unwell


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
