"""The scaffold's model and apps, run with this Python on the host: the package, the answers, the reports."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bosun_local.config import load_config
from bosun_local.contracts import records
from bosun_local.model_package import load_spec
from bosun_local.pps.inputs import parse_form
from bosun_local.pps.model import load_package
from bosun_local.spool.filesystem.reader import FilesystemSpoolReader
from bosun_local.workshop import scaffold
from tests.conftest import free_port
from tests.workshop.helpers import NOTES_ROW, get_form, serving, train

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


@pytest.fixture(scope="module")
def workshop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scaffolded folder with its model trained."""
    root = tmp_path_factory.mktemp("workshop")
    scaffold.init(root, load_config(root / "no-such-data-dir"))
    train(root)
    return root


def pps_prediction(package: Path, query: str) -> float:
    """Score a row with the prediction server's own loader and form parser."""
    model = load_package(package)
    pairs = [tuple(part.split("=", 1)) for part in query.split("&")]
    return float(model.score(parse_form(pairs, model.schema)).predictions[0])


def test_model_py_writes_a_valid_package(workshop: Path) -> None:
    package = workshop / "model/package"
    spec = load_spec(package)
    assert spec.feature_names == FEATURES
    assert (spec.target_type, spec.target_name, spec.model_file) == ("regression", "y", "model.pkl")
    header, *rows = (package / "training.csv").read_text().splitlines()
    assert header.split(",") == [*FEATURES, "y"]
    assert 300 < len(rows) < 442  # the training split of the 442 rows
    first = dict(zip(header.split(","), rows[0].split(","), strict=True))
    assert float(first["age"]) > 1  # unscaled values, as people type them


def test_plain_app_answers_form_and_query_the_same_as_the_pps(workshop: Path) -> None:
    port = free_port()
    with serving(workshop / "app/app.py", port):
        url = f"http://127.0.0.1:{port}/predict"
        by_form = get_form(url, NOTES_ROW)
        by_query = httpx.get(f"{url}?{NOTES_ROW}", timeout=10)
        assert by_form.status_code == 200 and by_query.status_code == 200
        assert by_form.json() == by_query.json()
        assert by_form.json()["prediction"] == pps_prediction(workshop / "model/package", NOTES_ROW)

        missing = httpx.get(f"{url}?age=30", timeout=10)
        assert missing.status_code == 400 and "missing field 'sex'" in missing.json()["error"]
        bad = get_form(url, NOTES_ROW.replace("bmi=23", "bmi=fat"))
        assert bad.status_code == 400 and "'bmi' must be a number" in bad.json()["error"]
        assert get_form(url, NOTES_ROW).status_code == 200  # still serving after bad input


def test_instrumented_app_reports_stats_and_rows_for_each_request(workshop: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    env = {"MLOPS_DEPLOYMENT_ID": "d" * 24, "MLOPS_MODEL_ID": "m" * 24, "MLOPS_SPOOLER_TYPE": "FILESYSTEM",
           "MLOPS_FILESYSTEM_DIRECTORY": str(spool)}
    port = free_port()
    with serving(workshop / "app-instrumented/app.py", port, env=env) as proc:
        url = f"http://127.0.0.1:{port}/predict"
        answers = [get_form(url, NOTES_ROW) for _ in range(5)]
        assert get_form(url, "age=1").status_code == 400  # not a prediction: not reported
        proc.terminate()  # SIGTERM: the app exits normally, so buffered records are delivered
        assert proc.wait(timeout=20) == 0
    assert {a.json()["prediction"] for a in answers} == {pps_prediction(workshop / "model/package", NOTES_ROW)}

    with FilesystemSpoolReader(spool) as reader:
        found = reader.read(max_records=100).records
    stats = [r for r in found if r.data_type == records.DEPLOYMENT_STATS]
    rows = [r for r in found if r.data_type == records.PREDICTIONS_DATA]
    assert sum(r.rows for r in stats) == 5
    assert sum(r.rows for r in rows) == 5
    assert {r.deployment_id for r in found} == {"d" * 24} and {r.model_id for r in found} == {"m" * 24}


def test_instrumented_app_without_mlops_settings_fails_naming_them(workshop: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    done = subprocess.run([sys.executable, str(workshop / "app-instrumented/app.py")], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    assert "MLOPS_SPOOLER_TYPE" in done.stderr
