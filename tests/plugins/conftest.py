"""Fixtures for plugin tests."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The suite runs with --import-mode=importlib, which puts no test dir on sys.path; the plugin tests
# share plugin_helpers.py, so make this directory importable before they load.
sys.path.insert(0, str(Path(__file__).parent))

from plugin_helpers import Runner  # noqa: E402


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    """Return a Runner working in a fresh directory."""
    work = tmp_path / "work"
    work.mkdir()
    return Runner(work)
