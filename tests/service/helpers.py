"""Helpers of service tests: start a service, write model packages, unique names."""
from __future__ import annotations

import pickle
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LinearRegression

from bosun_local.client import ServiceClient
from tests.support.service import running_service

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


@contextmanager
def start(home: Path, env: dict[str, str] | None = None) -> Iterator[Service]:
    """Run a service on a data dir and yield it with a client."""
    with running_service(home, env={**FAST_ENV, **(env or {})}) as (url, token):
        client = ServiceClient(url, token)
        try:
            yield Service(url, token, home, client)
        finally:
            client.close()


def unique(prefix: str) -> str:
    """Return a name no other test of a shared service uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


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


def write_classifier(directory: Path, rows: int = 200) -> Path:
    """Write a binary classification package with a categorical feature and training data."""
    from sklearn.dummy import DummyClassifier

    directory.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"x": range(rows), "color": (["red", "green", "blue", "red"] * rows)[:rows],
                          "label": (["yes", "no", "no", "no"] * rows)[:rows]})
    (directory / "model.pkl").write_bytes(pickle.dumps(DummyClassifier().fit(frame[["x"]], frame["label"])))
    (directory / "model.yaml").write_text(
        "targetName: label\ntargetType: binary\nclassNames: ['no', 'yes']\n"
        "features:\n  - {name: x, type: numeric}\n  - {name: color, type: categorical}\n")
    frame.to_csv(directory / "training.csv", index=False)
    return directory


def wait_for(check: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Poll check until it returns something truthy; fail naming what did not happen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
