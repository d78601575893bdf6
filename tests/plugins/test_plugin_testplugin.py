"""The test plugin through bosun-plugin-runner: every action, raise_exception, and SIGTERM mid-action."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from plugin_helpers import DEP_ID, MODEL_A, MODEL_B, PE_ID, RUNNER, Runner, check_status_shape, deployment

NO_SLEEP = {k: 0 for k in ("launch_time_sec", "stop_time_sec", "replace_model_time_sec", "pe_status_time_sec",
                           "deployment_status_time_sec", "deployment_list_time_sec", "plugin_start_time",
                           "plugin_stop_time")}


def settings(state: Path, **extra: object) -> dict[str, object]:
    return {"tmp_dir": str(state), **NO_SLEEP, **extra}


def test_every_action_through_the_runner(runner: Runner) -> None:
    state = runner.cwd / "state"
    plugin = settings(state)
    pe = {"id": PE_ID, "deployments": [DEP_ID]}
    pe_file = state / f"pe_{PE_ID}.yaml"
    dep_file = state / f"deployment_{DEP_ID}.yaml"

    res = runner.action("test", "pe_status", runner.config("pe.yaml", plugin, peInfo=pe))
    status = check_status_shape(res)
    assert (res.rc, status["status"]) == (1, "failing") and "PE not found" in status["msg"]

    res = runner.action("test", "plugin_start", runner.config("start.yaml", plugin, peInfo=pe))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"], status["data"]) == (0, "passing", None, None)
    assert yaml.safe_load(pe_file.read_text()) == {"state": "running"}

    res = runner.action("test", "deployment_start", runner.config("d.yaml", plugin, peInfo=pe,
                                                                  deploymentInfo=deployment(MODEL_A, "/models/a")))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["msg"], status["state"]) == (0, "passing", "Launch successful", "ready")
    assert status["data"] is None
    assert yaml.safe_load(dep_file.read_text()) == {
        "name": "diabetes", "model_id": MODEL_A, "key_value_config": {"tier": "gold"},
        "model_execution_type": "custom_inference_model", "model_artifact": "/models/a", "state": "running"}

    res = runner.action("test", "deployment_status", runner.config("d.yaml", plugin,
                                                                   deploymentInfo=deployment(MODEL_A)))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"], status["data"]) == (0, "passing", "ready",
                                                                           {"currentModelId": MODEL_A})
    assert "status_timestamp" in yaml.safe_load(dep_file.read_text())

    res = runner.action("test", "pe_status", runner.config("pe.yaml", plugin, peInfo=pe))
    status = check_status_shape(res)
    assert (res.rc, status["status"], list(status["data"]["deploymentsStatus"])) == (0, "passing", [DEP_ID])
    assert status["data"]["deploymentsStatus"][DEP_ID]["state"] == "ready"
    assert "status_timestamp" in yaml.safe_load(pe_file.read_text())

    res = runner.action("test", "deployment_replace_model", runner.config(
        "r.yaml", plugin, deploymentInfo=deployment(MODEL_A, "/models/b", newModelId=MODEL_B)))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"], status["data"]) == (0, "passing", "ready", None)
    assert status["msg"] == "Model replaced successfully Path: /models/b"
    assert yaml.safe_load(dep_file.read_text())["model_id"] == MODEL_B

    res = runner.action("test", "deployment_list", runner.config("l.yaml", plugin))
    status = check_status_shape(res)
    assert (res.rc, status["status"], list(status["data"])) == (0, "passing", [DEP_ID])
    # As DataRobot's test plugin: each deployment's recorded file, not a status.
    assert (status["data"][DEP_ID]["model_id"], status["data"][DEP_ID]["state"]) == (MODEL_B, "running")

    res = runner.action("test", "deployment_relaunch", runner.config("d.yaml", plugin,
                                                                     deploymentInfo=deployment(MODEL_A)))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (0, "passing", "ready")
    assert yaml.safe_load(dep_file.read_text())["model_id"] == MODEL_A

    res = runner.action("test", "deployment_stop", runner.config("s.yaml", plugin, deploymentInfo={"id": DEP_ID}))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["msg"], status["state"]) == (0, "passing", "Stop Successful", "stopped")
    assert not dep_file.exists()

    res = runner.action("test", "deployment_status", runner.config("d.yaml", plugin,
                                                                   deploymentInfo=deployment(MODEL_A)))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (1, "failing", "errored")

    res = runner.action("test", "plugin_stop", runner.config("start.yaml", plugin, peInfo=pe))
    assert (res.rc, check_status_shape(res)["status"]) == (0, "passing")
    assert not pe_file.exists()


def test_raise_exception_makes_every_action_fail(runner: Runner) -> None:
    plugin = settings(runner.cwd / "state", raise_exception=True)
    for action in ("plugin_start", "pe_status", "deployment_start", "deployment_stop", "deployment_status",
                   "deployment_list", "plugin_stop"):
        res = runner.action("test", action, runner.config("c.yaml", plugin, peInfo={"id": PE_ID},
                                                          deploymentInfo=deployment()))
        status = check_status_shape(res)
        assert (res.rc, status["status"], status["state"]) == (1, "failing", "errored"), action
        assert status["msg"] == (f"Exception occurred while running action {action} : error Bosun Test plugin "
                                 "is raising an exception")


def test_private_config_json_overrides_plugin_config(runner: Runner) -> None:
    private = runner.cwd / "private.json"
    state = runner.cwd / "private-state"
    private.write_text(json.dumps({"tmp_dir": str(state), **NO_SLEEP}))
    res = runner.action("test", "plugin_start", runner.config("c.yaml", {"tmp_dir": "/nonexistent/x"},
                                                              peInfo={"id": PE_ID}),
                        "--private-config", str(private))
    assert (res.rc, check_status_shape(res)["status"]) == (0, "passing"), res.stderr
    assert (state / f"pe_{PE_ID}.yaml").exists()


def _wait_for(path: Path, text: str, proc: subprocess.Popen[str]) -> None:
    """Wait (bounded) until the runner's log says the action is under way."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"runner never logged {text!r}; log: {path.read_text() if path.exists() else ''}")


@pytest.mark.parametrize("exit_codes", [True, False])
def test_sigterm_ends_a_long_action_cleanly(runner: Runner, exit_codes: bool) -> None:
    state = runner.cwd / "state"
    cfg = runner.config("c.yaml", settings(state, launch_time_sec=30), deploymentInfo=deployment())
    log = runner.cwd / "runner.log"
    argv = [str(RUNNER), "--plugin", "test", "--action", "deployment_start", "--config", str(cfg),
            "--status-file", str(runner.status_file), "--logfile", str(log)]
    proc = subprocess.Popen(argv + (["--exit-codes"] if exit_codes else []), cwd=runner.cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(log, "sleeping 30.0s (launch_time_sec)", proc)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == (1 if exit_codes else 128 + signal.SIGTERM)
    status = yaml.safe_load(runner.status_file.read_text())
    assert (status["status"], status["state"]) == ("failing", "errored")
    assert "action deployment_start of plugin BosunTestPlugin was interrupted by SIGTERM" in status["msg"]
    assert 0 < status["duration"] < 30
    assert not (state / f"deployment_{DEP_ID}.yaml").exists()
    assert "interrupted by SIGTERM" in log.read_text()
