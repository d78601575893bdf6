"""Fixtures of service tests: a real service subprocess on a free port with a temp data dir, and packages.

Every module runs once per storage backend: SQLite (the data dir's file) and PostgreSQL (a fresh database on the
local cluster that `make postgres` starts).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

from tests.support.postgres import backend_env, storage_backend

from .helpers import Service, start, write_package

__all__ = ["storage_backend"]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, storage_backend: str) -> Iterator[Service]:
    """Run one service shared by a test module (tests use unique names), on the module's storage backend."""
    with backend_env(storage_backend) as env, start(tmp_path_factory.mktemp("home"), env=env) as svc:
        yield svc


@pytest.fixture
def db_env(storage_backend: str) -> Iterator[dict[str, str]]:
    """Return the environment of a test's own services: its own database on the module's backend."""
    with backend_env(storage_backend) as env:
        yield env


@pytest.fixture(scope="session")
def diabetes_frame() -> pd.DataFrame:
    """Return the unscaled diabetes data with target column y."""
    data = load_diabetes(as_frame=True, scaled=False)
    frame = data.frame.rename(columns={"target": "y"})
    return frame


@pytest.fixture
def package_dir(tmp_path: Path, diabetes_frame: pd.DataFrame) -> Path:
    """Return a valid regression package directory with training data."""
    return write_package(tmp_path / "pkg", diabetes_frame)
