"""Fixtures for service tests: a real service subprocess on a free port with a temp data dir, and packages."""
from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

from bosun_local.client import ServiceClient
from bosun_local.service.testing import running_service

# Short retries and purge rounds so webhook and retention tests finish in seconds.
FAST_ENV = {"BOSUN_SERVICE_WEBHOOK_BACKOFF_SEC": "0.2", "BOSUN_SERVICE_WEBHOOK_MAX_ATTEMPTS": "3",
            "BOSUN_SERVICE_MAX_PACKAGE_MB": "5", "BOSUN_SERVICE_MAX_UNPACKED_MB": "8"}


@dataclass
class Service:
    """A running test service: its URL, token, data dir and a client."""

    url: str
    token: str
    home: Path
    client: ServiceClient


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """Run a fresh service for one test."""
    home = tmp_path / "home"
    with running_service(home, env=FAST_ENV) as (url, token):
        client = ServiceClient(url, token)
        yield Service(url, token, home, client)
        client.close()


@pytest.fixture(scope="session")
def diabetes_frame() -> pd.DataFrame:
    """Return the unscaled diabetes data with target column y."""
    data = load_diabetes(as_frame=True, scaled=False)
    frame = data.frame.rename(columns={"target": "y"})
    return frame


def write_package(directory: Path, frame: pd.DataFrame, with_training: bool = True, name: str = "diabetes") -> Path:
    """Write a regression package (model.pkl, model.yaml, optional training.csv) into a directory."""
    directory.mkdir(parents=True, exist_ok=True)
    features = [c for c in frame.columns if c != "y"]
    model = LinearRegression().fit(frame[features], frame["y"])
    (directory / "model.pkl").write_bytes(pickle.dumps(model))
    spec = [f"name: {name}", "targetName: y", "targetType: regression", "features:"]
    spec += [f"  - {{name: {f}, type: numeric}}" for f in features]
    (directory / "model.yaml").write_text("\n".join(spec) + "\n")
    if with_training:
        frame.to_csv(directory / "training.csv", index=False)
    return directory


@pytest.fixture
def package_dir(tmp_path: Path, diabetes_frame: pd.DataFrame) -> Path:
    """Return a valid regression package directory with training data."""
    return write_package(tmp_path / "pkg", diabetes_frame)
