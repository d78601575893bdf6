"""`bosun-local actuals upload` and the accuracy rows of `bosun-local stats`, against a running service."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from .helpers import Service, unique, write_package
from .test_cli import cli, cli_process


def test_actuals_upload_from_csv_then_stats_show_accuracy(service: Service, tmp_path: Path,
                                                          diabetes_frame: pd.DataFrame) -> None:
    c = service.client
    package = c.register_package(write_package(tmp_path / "pkg", diabetes_frame))
    dep = c.create_deployment(package["id"], unique("cli-acc"), external=True)["deployment"]
    ids = [f"row-{i}" for i in range(30)]
    c.ingest([{"recordId": unique("p"), "deploymentId": dep["id"], "modelId": dep["modelId"],
               "minute": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z"), "kind": "predictions", "rows": 30,
               "associations": {"ids": ids[:20], "predictions": [100.0] * 20}}])
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"id": ids, "y": [104.0] * 30, "acted": ["yes"] * 30}).to_csv(labels, index=False)
    done = cli_process(service, "actuals", "upload", dep["name"], str(labels), "--association-id-column", "id",
                       "--actual-column", "y", "--was-acted-on-column", "acted", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"deploymentId": dep["id"], "file": str(labels), "received": 30, "stored": 30,
                                       "duplicates": 0, "matched": 20}
    again = cli(service, "actuals", "upload", dep["id"], str(labels), "--association-id-column", "id",
                "--actual-column", "y")
    assert again.returncode == 0 and "30 duplicate(s) ignored, 20 matched" in again.stdout
    figures = json.loads(cli(service, "stats", dep["name"], "--json").stdout)["accuracy"]
    metrics = figures["metrics"]
    assert metrics["rmse"] == pytest.approx(4.0) and metrics["mae"] == pytest.approx(4.0)
    assert metrics["r2"] is None  # constant actuals: R² is undefined
    assert (figures["matched"], figures["waitingActuals"]) == (20, 10)
    table = cli(service, "stats", dep["name"]).stdout
    assert "actuals matched / waiting for a prediction" in table and "20 / 10" in table and "JSD" in table


def test_actuals_upload_names_a_missing_column_and_the_columns_there_are(service: Service, tmp_path: Path,
                                                                          diabetes_frame: pd.DataFrame) -> None:
    package = service.client.register_package(write_package(tmp_path / "pkg", diabetes_frame))
    dep = service.client.create_deployment(package["id"], unique("cli-acc-bad"), external=True)["deployment"]
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\na,1\n")
    done = cli(service, "actuals", "upload", dep["id"], str(labels), "--association-id-column", "id",
               "--actual-column", "y")
    assert done.returncode == 2
    assert "has no column 'y' (given by --actual-column); its columns are: id, label" in done.stderr
