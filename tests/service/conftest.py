"""Fixtures of service tests: a real service subprocess on a free port with a temp data dir, and packages."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

from .helpers import Service, start, write_package


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Run one service shared by a test module (tests use unique names)."""
    with start(tmp_path_factory.mktemp("home")) as svc:
        yield svc


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
