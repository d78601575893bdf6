"""A package that cannot serve fails at start (clear message, non-zero exit); so do bad settings."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bosun_local.cli.main import cli
from tests.pps.packages import custom_package


def broken_package(kind: str, packages: dict[str, Path], tmp: Path) -> Path:
    """Return a copy of a good package broken in one way."""
    if kind == "corrupt pickle":
        target = shutil.copytree(packages["regression"], tmp / "pkg")
        (target / "model.pkl").write_bytes(b"\x80\x04not a pickle at all")
    elif kind == "missing model file":
        target = shutil.copytree(packages["regression"], tmp / "pkg")
        (target / "model.pkl").unlink()
    elif kind == "no score hook":
        target = custom_package(tmp / "pkg", source="def load_model(code_dir):\n    return 1\n")
    elif kind == "custom import error":
        target = custom_package(tmp / "pkg", source="import not_a_module_anywhere\n")
    elif kind == "features differ from training":
        target = shutil.copytree(packages["regression"], tmp / "pkg")
        text = (target / "model.yaml").read_text().replace("name: s6", "name: s7")
        (target / "model.yaml").write_text(text)
    elif kind == "regression spec on a classifier":
        target = shutil.copytree(packages["binary"], tmp / "pkg")
        text = (target / "model.yaml").read_text()
        (target / "model.yaml").write_text(text.replace("targetType: binary", "targetType: regression"))
        (target / "model.pkl").write_bytes(b"\x80\x04N.")  # pickled None: no predict()
    else:
        target = tmp / "nothing-here"
    return target


@pytest.mark.parametrize(("kind", "words"), [
    ("corrupt pickle", ["cannot load model.pkl", "re-save the model"]),
    ("missing model file", ["has no model file"]),
    ("no score hook", ["custom.py has no score() hook", "has no predict()", "define score(data, model"]),
    ("custom import error", ["custom.py failed to import", "ModuleNotFoundError"]),
    ("features differ from training", ["fitted on columns", "s7"]),
    ("regression spec on a classifier", ["NoneType", "no predict()"]),
    ("no package dir", ["is not a directory"]),
])
def test_unloadable_package_exits_nonzero_with_message(start_server: object, packages: dict[str, Path],
                                                       tmp_path: Path, kind: str, words: list[str]) -> None:
    package = broken_package(kind, packages, tmp_path)
    server = start_server({"PPS_MODEL_DIR": str(package)}, ready=False)  # type: ignore[operator]
    assert server.wait_exit() == 1
    output = server.output()
    assert "error: model package" in output and "Traceback" not in output
    for word in words:
        assert word in output, output


@pytest.mark.parametrize(("env", "words"), [
    ({"PORT": "http"}, ["PORT='http' is not a whole number"]),
    ({"PREDICTION_API_WORKERS": "0"}, ["PREDICTION_API_WORKERS=0 is below 1"]),
    ({"MONITORING_ENABLED": "1"}, ["MLOPS_DEPLOYMENT_ID or MLOPS_MODEL_ID is not set"]),
    ({"PPS_MULTI_BASE_DIR": "/no/such/dir"}, ["base dir /no/such/dir does not exist"]),
])
def test_bad_settings_exit_nonzero(start_server: object, packages: dict[str, Path], env: dict[str, str],
                                   words: list[str]) -> None:
    server = start_server({"PPS_MODEL_DIR": str(packages["regression"]), **env}, ready=False)  # type: ignore[operator]
    assert server.wait_exit() == 1
    for word in words:
        assert word in server.output()


def test_cli_check_and_usage(packages: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["pps", "check", str(packages["binary"]), "--json"], standalone_mode=False)
    assert ok.exit_code == 0, ok.output
    assert '"targetType": "binary"' in ok.output
    both = runner.invoke(cli, ["pps", "serve", "--model-dir", str(tmp_path), "--multi-base-dir", str(tmp_path)])
    assert both.exit_code != 0 and "two modes" in str(both.exception)


def test_cli_serve_runs_the_server(start_server: object, packages: dict[str, Path]) -> None:
    """`bosun-local pps serve` is the same server; here through the console entry point."""
    import subprocess
    import sys

    from tests.conftest import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bosun_local", "pps", "serve", "--model-dir",
                             str(packages["regression"]), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import httpx

        for _ in range(300):
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    pytest.fail("bosun-local pps serve exited early")
                import time

                time.sleep(0.1)
        assert resp.json() == {"status": "ok"}
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
