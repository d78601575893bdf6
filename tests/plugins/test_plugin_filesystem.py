"""The filesystem plugin, every action run through bosun-plugin-runner as a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml
from plugin_helpers import DEP_ID, MODEL_A, MODEL_B, PE_ID, Runner, check_status_shape, deployment

from bosun_local.plugins import run_action

URL = "http://127.0.0.1:9999/"


def make_package(root: Path, model_id: str, size: int = 64) -> Path:
    """Write a model package dir whose files all say which model they belong to."""
    root.mkdir(parents=True)
    (root / "model.yaml").write_text(f"name: {model_id}\n")
    (root / "model.pkl").write_text(model_id * size)
    (root / "sub").mkdir()
    (root / "sub" / "extra.txt").write_text(model_id)
    return root


def fs_config(base: Path, **extra: str) -> dict[str, str]:
    return {"baseDir": str(base), "deploymentPredictionBaseUrl": URL, **extra}


def test_every_action_through_the_runner(runner: Runner) -> None:
    base = runner.cwd / "deployments"
    base.mkdir()
    pkg_a = make_package(runner.cwd / "pkg_a", MODEL_A)
    pkg_b = make_package(runner.cwd / "pkg_b", MODEL_B)
    plugin = fs_config(base, deploymentKVFile="kv.yaml")
    pe = {"id": PE_ID, "deployments": [DEP_ID]}
    target = base / f"deployment_{DEP_ID}"
    url = f"http://127.0.0.1:9999/deployments/{DEP_ID}/predictions"

    res = runner.action("filesystem", "plugin_start", runner.config("start.yaml", plugin, peInfo=pe))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"], status["data"], status["msg"]) == (0, "passing", None, None,
                                                                                         "all ok")

    res = runner.action("filesystem", "deployment_start",
                        runner.config("dstart.yaml", plugin, peInfo=pe, deploymentInfo=deployment(MODEL_A, pkg_a)))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"], status["msg"]) == (0, "passing", "ready", None)
    assert status["data"] == {"predictionUrl": url}
    assert sorted(p.name for p in target.iterdir()) == ["config.yml", "kv.yaml", "model.pkl", "model.yaml", "sub"]
    assert yaml.safe_load((target / "config.yml").read_text()) == {"deployment_id": DEP_ID, "model_id": MODEL_A}
    assert yaml.safe_load((target / "kv.yaml").read_text()) == {"tier": "gold"}
    assert (target / "sub" / "extra.txt").read_text() == MODEL_A

    res = runner.action("filesystem", "deployment_status",
                        runner.config("dstatus.yaml", plugin, deploymentInfo=deployment(MODEL_A, pkg_a)))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (0, "passing", "ready")
    assert status["data"] == {"currentModelId": MODEL_A}

    res = runner.action("filesystem", "pe_status", runner.config("pe.yaml", plugin, peInfo=pe))
    status = check_status_shape(res)
    assert (res.rc, status["status"]) == (0, "passing")
    inner = status["data"]["deploymentsStatus"][DEP_ID]
    assert (inner["status"], inner["state"], inner["data"]["currentModelId"]) == ("passing", "ready", MODEL_A)

    res = runner.action("filesystem", "deployment_list", runner.config("list.yaml", plugin))
    status = check_status_shape(res)
    assert (res.rc, status["status"], list(status["data"])) == (0, "passing", [DEP_ID])
    assert status["data"][DEP_ID]["data"]["currentModelId"] == MODEL_A

    replace = deployment(MODEL_A, pkg_b, newModelId=MODEL_B)
    res = runner.action("filesystem", "deployment_replace_model", runner.config("replace.yaml", plugin,
                                                                                deploymentInfo=replace))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"], status["data"]) == (0, "passing", "ready", None)
    assert yaml.safe_load((target / "config.yml").read_text())["model_id"] == MODEL_B
    assert (target / "model.pkl").read_text() == MODEL_B * 64
    assert not [p for p in base.iterdir() if p.name.startswith(".")], "work-in-progress dirs were left behind"

    # The agent still expecting the old model sees a warning: exit code 2 under --exit-codes.
    res = runner.action("filesystem", "deployment_status", runner.config("dstatus.yaml", plugin,
                                                                         deploymentInfo=deployment(MODEL_A, pkg_a)))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (2, "warning", "ready")
    assert MODEL_B in status["msg"] and MODEL_A in status["msg"]

    res = runner.action("filesystem", "deployment_relaunch", runner.config("relaunch.yaml", plugin,
                                                                           deploymentInfo=deployment(MODEL_A, pkg_a)))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (0, "passing", "ready")
    assert yaml.safe_load((target / "config.yml").read_text())["model_id"] == MODEL_A

    res = runner.action("filesystem", "deployment_stop",
                        runner.config("stop.yaml", plugin, deploymentInfo={"id": DEP_ID}))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (0, "passing", "stopped")
    assert not target.exists()

    res = runner.action("filesystem", "deployment_stop",
                        runner.config("stop.yaml", plugin, deploymentInfo={"id": DEP_ID}))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"], status["msg"]) == (0, "passing", "stopped", None)

    res = runner.action("filesystem", "deployment_status", runner.config("dstatus.yaml", plugin,
                                                                         deploymentInfo=deployment(MODEL_A, pkg_a)))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (1, "failing", "errored")
    assert status["msg"] == f"No deployment dir: {target}/"

    res = runner.action("filesystem", "plugin_stop", runner.config("plain.yaml", plugin))
    assert (res.rc, check_status_shape(res)["status"]) == (0, "passing"), res.stderr
    # As DataRobot's: a plugin without endpoints fails endpoint actions rather than pretending they worked.
    endpoint = {"name": "e", "endpointType": "online", "predictionEnvironmentId": PE_ID}
    for action in ("endpoint_status", "endpoint_update"):
        res = runner.action("filesystem", action, runner.config("plain.yaml", plugin, endpointInfo=endpoint))
        status = check_status_shape(res)
        assert (res.rc, status["status"], status["state"]) == (1, "failing", "errored")
        assert status["msg"] == (f"Exception occurred while running action {action} : error Action {action} "
                                 f"provide - did not return ActionStatusInfo object")


def test_single_file_artifact_and_prefix(runner: Runner) -> None:
    base = runner.cwd / "deployments"
    artifact = runner.cwd / "model.joblib"
    artifact.write_bytes(b"\x00model")
    plugin = {"baseDir": str(base), "deploymentDirPrefix": "dep-", "deploymentInfoFile": "info.yaml"}
    res = runner.action("filesystem", "deployment_start",
                        runner.config("c.yaml", plugin, deploymentInfo=deployment(MODEL_A, artifact)))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["data"]) == (0, "passing", {"predictionUrl": f"/deployments/{DEP_ID}/"
                                                                                           f"predictions"})
    target = base / f"dep-{DEP_ID}"
    assert sorted(p.name for p in target.iterdir()) == ["info.yaml", "model.joblib"]
    assert (target / "model.joblib").read_bytes() == b"\x00model"


def test_start_with_missing_artifact_fails_and_leaves_nothing(runner: Runner) -> None:
    base = runner.cwd / "deployments"
    base.mkdir()
    missing = runner.cwd / "no-such-model"
    res = runner.action("filesystem", "deployment_start",
                        runner.config("c.yaml", fs_config(base), deploymentInfo=deployment(MODEL_A, missing)))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (1, "failing", "errored")
    assert status["msg"] == (f"Exception occurred while running action deployment_start : error [Errno 2] "
                             f"No such file or directory: '{missing}'")
    assert list(base.iterdir()) == []


def test_replace_failures_keep_the_old_model(runner: Runner) -> None:
    base = runner.cwd / "deployments"
    pkg_a = make_package(runner.cwd / "pkg_a", MODEL_A)
    plugin = fs_config(base)
    replace = deployment(MODEL_A, runner.cwd / "missing", newModelId=MODEL_B)

    res = runner.action("filesystem", "deployment_replace_model",
                        runner.config("r.yaml", plugin, deploymentInfo=replace))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"], status["data"]) == (1, "failing", "errored", None)
    assert "is not running" in res.stderr

    runner.action("filesystem", "deployment_start", runner.config("s.yaml", plugin,
                                                                  deploymentInfo=deployment(MODEL_A, pkg_a)))
    res = runner.action("filesystem", "deployment_replace_model",
                        runner.config("r.yaml", plugin, deploymentInfo=replace))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (1, "failing", "ready")
    assert status["data"]["oldModelInUse"] is True and status["data"]["currentModelId"] == MODEL_A
    target = base / f"deployment_{DEP_ID}"
    assert yaml.safe_load((target / "config.yml").read_text())["model_id"] == MODEL_A
    assert [p.name for p in base.iterdir()] == [target.name]


def test_broken_deployment_dir_is_reported(runner: Runner) -> None:
    base = runner.cwd / "deployments"
    target = base / f"deployment_{DEP_ID}"
    target.mkdir(parents=True)
    cfg = runner.config("c.yaml", fs_config(base), deploymentInfo=deployment(MODEL_A))
    res = runner.action("filesystem", "deployment_status", cfg)
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (1, "failing", "errored")
    assert status["msg"] == f"No deployment info file: {target / 'config.yml'}"
    (target / "config.yml").write_text(yaml.safe_dump({"deployment_id": DEP_ID, "model_id": MODEL_A}))
    res = runner.action("filesystem", "deployment_status", cfg)
    status = check_status_shape(res)
    assert (res.rc, status["state"]) == (1, "errored")
    assert status["msg"] == "Missing model artifact"


def test_pe_status_and_plugin_start_check_base_dir(runner: Runner) -> None:
    missing = runner.cwd / "nope"
    for action in ("pe_status", "plugin_start"):
        res = runner.action("filesystem", action, runner.config("c.yaml", fs_config(missing)))
        status = check_status_shape(res)
        assert (res.rc, status["status"]) == (1, "failing")
        assert status["msg"] == f"Unable to detect folder: {missing}"
    afile = runner.cwd / "afile"
    afile.write_text("x")
    res = runner.action("filesystem", "pe_status", runner.config("c.yaml", fs_config(afile)))
    assert check_status_shape(res)["msg"] == f"Provided folder '{afile}' - is not a directory"


def test_plugin_start_removes_leftovers_of_interrupted_actions(runner: Runner) -> None:
    base = runner.cwd / "deployments"
    leftover = base / f".bosun-tmp-deployment_{DEP_ID}-0badf00d"
    leftover.mkdir(parents=True)
    (leftover / "model.pkl").write_text("half")
    res = runner.action("filesystem", "plugin_start", runner.config("c.yaml", fs_config(base)))
    status = check_status_shape(res)
    assert (status["status"], status["msg"]) == ("passing", "all ok")
    assert "removed 1 leftovers" in res.stderr
    assert not leftover.exists()


def test_dry_run_changes_nothing(runner: Runner) -> None:
    base = runner.cwd / "deployments"
    base.mkdir()
    pkg = make_package(runner.cwd / "pkg", MODEL_A)
    res = runner.action("filesystem", "deployment_start",
                        runner.config("c.yaml", fs_config(base), deploymentInfo=deployment(MODEL_A, pkg)), "--dry-run")
    status = check_status_shape(res)
    assert (res.rc, status["status"]) == (0, "passing")
    assert status["msg"].startswith("dry run: would copy")
    assert list(base.iterdir()) == []


def test_settings_from_private_config_override_plugin_config(runner: Runner) -> None:
    base = runner.cwd / "from-private"
    base.mkdir()
    private = runner.cwd / "plugin.filesystem.conf.yaml"
    private.write_text(f"baseDir: {base}\nbaseDri: typo\n")
    res = runner.action("filesystem", "pe_status", runner.config("c.yaml", {"baseDir": "/nonexistent"}),
                        "--private-config", str(private))
    status = check_status_shape(res)
    assert (res.rc, status["status"]) == (0, "passing")  # /nonexistent would fail: the private file won
    assert "baseDri" in res.stderr and "did you mean 'baseDir'" in res.stderr

    private.write_text("deploymentDirPrefix: [not, a, string]\n")
    res = runner.action("filesystem", "pe_status", runner.config("c.yaml", {"baseDir": str(base)}),
                        "--private-config", str(private))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (1, "failing", "errored")
    assert str(private) in status["msg"] and "deploymentDirPrefix" in status["msg"]


READER = r"""
import json, sys, time
from pathlib import Path
import yaml
target, stop = Path(sys.argv[1]), Path(sys.argv[2])
seen, bad, deadline = 0, [], time.monotonic() + 60
def read():
    for attempt in range(3):
        try:
            before = (target / "config.yml").read_text()
            model = (target / "model.pkl").read_text()
            extra = (target / "sub" / "extra.txt").read_text()
            after = (target / "config.yml").read_text()
            return before, model, extra, after
        except FileNotFoundError as exc:
            last = exc  # the old dir's files are deleted right after a swap; look again
    return str(last)
while not stop.exists() and time.monotonic() < deadline and seen < 200000:
    got = read()
    if isinstance(got, str):
        bad.append("missing: " + got)
        continue
    before, model, extra, after = got
    if before != after:
        continue  # a swap happened between the reads: this sample proves nothing either way
    model_id = (yaml.safe_load(before) or {}).get("model_id")
    if not model_id:
        bad.append(f"config.yml without model_id: {before!r}")
        continue
    if model != model_id * 4096 or extra != model_id:
        bad.append(f"config says {model_id}, model.pkl has {len(model)} chars, extra {extra!r}")
    seen += 1
print(json.dumps({"seen": seen, "bad": bad[:5], "nbad": len(bad)}))
"""


def test_replace_is_atomic_for_a_concurrent_reader(tmp_path: Path) -> None:
    base = tmp_path / "deployments"
    # A fresh model id per replacement: equal config.yml texts then mean the same version (no A-B-A).
    models = [f"e{i:023x}" for i in range(41)]
    packages = [make_package(tmp_path / f"pkg_{m}", m, size=4096) for m in models]
    plugin = {"baseDir": str(base)}
    first = run_action("filesystem", "deployment_start", {"pluginConfig": plugin,
                                                          "deploymentInfo": deployment(models[0], packages[0])})
    assert first.status == "passing", first.msg
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(base / f"deployment_{DEP_ID}"), str(stop)],
                              stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.2)
        for model, pkg in zip(models[1:], packages[1:], strict=True):
            res = run_action("filesystem", "deployment_replace_model", {
                "pluginConfig": plugin, "deploymentInfo": deployment(models[0], pkg, newModelId=model)})
            assert res.status == "passing", res.msg
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=90)
    report = json.loads(out)
    assert report["nbad"] == 0, report["bad"]
    assert report["seen"] > 0
