"""bosun-plugin-runner as users call it: --gen-config round trips, listings, exit codes, failure paths."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from plugin_helpers import DEP_ID, PE_ID, Runner, check_status_shape, deployment

from bosun_local.plugins.framework.constants import BosunPluginActions

HEAD = """
from bosun_local.plugins import ActionStatus, ActionStatusInfo, BosunPluginBase
from bosun_local.plugins.filesystem import FilesystemPlugin  # an imported built-in does not count


class {name}(BosunPluginBase):
    def plugin_start(self):
        return {ret}

    def plugin_stop(self):
        return ActionStatusInfo(ActionStatus.OK)

    def deployment_list(self):
        return ActionStatusInfo(ActionStatus.OK, data={{}})

    def deployment_start(self, deployment_info):
        return ActionStatusInfo(ActionStatus.OK, state="ready")

    def deployment_stop(self, deployment_id):
        return ActionStatusInfo(ActionStatus.OK, state="stopped")

    def deployment_replace_model(self, deployment_info):
        return ActionStatusInfo(ActionStatus.OK, state="ready")

    def pe_status(self):
        return ActionStatusInfo(ActionStatus.UNKNOWN, msg="cannot tell")

    def deployment_status(self, deployment_info):
        raise KeyError("no such container")
"""


def plugin_file(where: Path, name: str = "MyPlugin", ret: str = "ActionStatusInfo(ActionStatus.WARN)",
                extra: str = "") -> Path:
    where.write_text(HEAD.format(name=name, ret=ret) + textwrap.dedent(extra))
    return where


def test_gen_config_round_trips_for_every_test_plugin_action(runner: Runner) -> None:
    order = ["plugin_start", "deployment_start", "deployment_status", "deployment_replace_model",
             "deployment_list", "pe_status", "deployment_relaunch", "deployment_stop", "plugin_stop"]
    assert set(order) | {"endpoint_update", "endpoint_status"} == set(BosunPluginActions.ALL)
    for action in order:
        gen = runner("--gen-config", f"{action}.yaml", "--plugin", "test", "--action", action, status=False)
        assert gen.rc == 0, gen.stderr
        res = runner.action("test", action, runner.cwd / f"{action}.yaml")
        status = check_status_shape(res)
        assert (res.rc, status["status"]) == (0, "passing"), (action, status["msg"])
    assert not list((runner.cwd / "test-plugin-state").iterdir())


def test_gen_config_on_stdout_for_the_filesystem_plugin(runner: Runner) -> None:
    gen = runner("--gen-config", "--plugin", "filesystem", "--action", "deployment_start", status=False)
    assert gen.rc == 0, gen.stderr
    assert gen.stdout.startswith("# Sample action config for bosun-plugin-runner --plugin filesystem")
    config = yaml.safe_load(gen.stdout)
    assert config["pluginConfig"]["baseDir"] == "."
    assert set(config["deploymentInfo"]) >= {"id", "modelId", "modelExecutionType", "modelArtifact"}
    (runner.cwd / "cfg.yaml").write_text(gen.stdout)
    (runner.cwd / "model").mkdir()
    (runner.cwd / "model" / "model.pkl").write_text("m")
    res = runner.action("filesystem", "deployment_start", runner.cwd / "cfg.yaml")
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (0, "passing", "ready")
    dep_id = config["deploymentInfo"]["id"]
    assert status["data"]["predictionUrl"] == f"http://127.0.0.1:8080/deployments/{dep_id}/predictions"
    assert (runner.cwd / f"deployment_{dep_id}" / "model.pkl").exists()


def test_gen_config_without_action_has_every_section(runner: Runner) -> None:
    gen = runner("--gen-config", status=False)
    config = yaml.safe_load(gen.stdout)
    assert (gen.rc, list(config)) == (0, ["pluginConfig", "peInfo", "deploymentInfo"])
    assert "newModelId" in config["deploymentInfo"]


def test_listings(runner: Runner) -> None:
    res = runner("--list-actions", "--json", status=False)
    assert (res.rc, json.loads(res.stdout)) == (0, BosunPluginActions.all_actions())
    res = runner("--list-plugins", "--json", status=False)
    rows = {row["name"]: row for row in json.loads(res.stdout)}
    assert res.rc == 0
    # The Kubernetes plugin (issue 21) is built in under both of the seed's names.
    assert set(rows) == {"filesystem", "test", "docker", "k8s", "kubernetes", "swarm"}
    assert {row["source"] for row in rows.values()} == {"built-in"}
    assert (rows["filesystem"]["available"], rows["filesystem"]["class"]) == (True, "FilesystemPlugin")
    assert (rows["test"]["available"], rows["test"]["class"]) == (True, "BosunTestPlugin")
    for name in ("docker",):
        row = rows[name]
        assert row["available"] or row["detail"].startswith(f"plugin {name} is not available: ")
    text = runner("--list-plugins", status=False)
    assert "FilesystemPlugin" in text.stdout and text.rc == 0


def test_exit_codes_follow_the_status(runner: Runner) -> None:
    plugin_file(runner.cwd / "codes.py")
    cfg = runner.config("c.yaml", {}, deploymentInfo=deployment())
    expected = {"plugin_stop": (0, "passing"), "plugin_start": (2, "warning"), "pe_status": (3, "unknown"),
                "deployment_status": (1, "failing")}
    for action, (rc, word) in expected.items():
        res = runner.action("codes.py", action, cfg)
        assert (res.rc, check_status_shape(res)["status"]) == (rc, word), action
    # Without --exit-codes the status file carries the result, as with the seed's runner.
    res = runner("--plugin", "codes.py", "--action", "pe_status", "--config", cfg)
    assert (res.rc, check_status_shape(res)["status"]) == (0, "unknown")


def test_a_plugin_that_raises_or_returns_the_wrong_type(runner: Runner) -> None:
    plugin_file(runner.cwd / "bad.py", ret="{'status': 'passing'}")
    cfg = runner.config("c.yaml", {}, deploymentInfo=deployment())
    res = runner.action("bad.py", "deployment_status", cfg)
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (1, "failing", "errored")
    assert status["msg"] == ("Exception occurred while running action deployment_status : "
                             "error 'no such container'")  # DataRobot's wording
    assert "plugin MyPlugin raised KeyError" in res.stderr
    res = runner.action("bad.py", "plugin_start", cfg)
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (1, "failing", "errored")
    assert status["msg"] == ("Exception occurred while running action plugin_start : error Action plugin_start "
                             "provide - did not return ActionStatusInfo object")


def test_unknown_action_is_a_failing_status(runner: Runner) -> None:
    res = runner.action("test", "deployment_explode", runner.config("c.yaml", {}))
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (1, "failing", "errored")
    assert "Action is not supported: deployment_explode" in status["msg"]


@pytest.mark.parametrize(("content", "expected"), [
    (None, "action config file {cfg} does not exist"),
    ("pluginConfig: [unclosed\n", "{cfg}, line 2: invalid YAML"),
    ("", "{cfg}: expected a mapping with a top-level `pluginConfig` key, got an empty file"),
    ("peInfo: {id: x}\n", "pluginConfig is missing"),
    ("pluginConfig: 3\n", "pluginConfig must be a mapping of keys to values, got int"),
    ("pluginConfig: {}\n", "deploymentInfo is missing; action deployment_start needs it"),
    ("pluginConfig: {}\ndeploymentInfo:\n  id: abc\n  modelExecutionType: dedicated\n",
     "deploymentInfo.modelId is missing (in {cfg}, line 2)"),
    ("pluginConfig: {}\ndeploymentInfo:\n  id: abc\n  modelId: m\n  modelExecutionType: ''\n",
     "deploymentInfo.modelExecutionType is empty (in {cfg}, line 5)"),
    ("pluginConfig: {}\npeInfo:\n  name: x\ndeploymentInfo: {id: a, modelId: m, modelExecutionType: external}\n",
     "peInfo.id is missing (in {cfg}, line 2)"),
    ("pluginConfig: {}\ndeploymentInfo: {id: a, modelId: m, modelExecutionType: external, keyValueConfig: [1]}\n",
     "deploymentInfo.keyValueConfig must be a mapping, got list"),
])
def test_bad_action_configs_name_the_file_and_key(runner: Runner, content: str | None, expected: str) -> None:
    cfg = runner.cwd / "action.yaml"
    if content is not None:
        cfg.write_text(content)
    res = runner.action("test", "deployment_start", cfg)
    message = expected.format(cfg=cfg)
    assert res.rc == 1
    assert message in res.stderr
    status = check_status_shape(res)
    assert (status["status"], status["state"]) == ("failing", "errored")
    assert message in status["msg"]


def test_unknown_keys_in_deployment_info_are_ignored(runner: Runner) -> None:
    info = {**deployment(), "modelPackageDetails": "/pkg/details.json", "futureKey": "x"}
    cfg = runner.config("c.yaml", {"tmp_dir": str(runner.cwd), "launch_time_sec": 0}, deploymentInfo=info)
    res = runner.action("test", "deployment_start", cfg)
    assert (res.rc, check_status_shape(res)["status"]) == (0, "passing")


@pytest.mark.parametrize(("spec", "body", "expected"), [
    ("none.py", "X = 1\n", "plugin file none.py holds no BosunPluginBase subclass"),
    ("two.py", None, "plugin file two.py holds 2 BosunPluginBase subclasses (MyPlugin, Second); expected exactly one"),
    ("abstract.py", "from bosun_local.plugins import BosunPluginBase\nclass Half(BosunPluginBase):\n"
                    "    def plugin_start(self):\n        return None\n",
     "found only abstract classes: Half (does not implement deployment_list, deployment_replace_model"),
    ("missing/plugin.py", "", "plugin file missing/plugin.py does not exist"),
    ("missing/plugin", "", "plugin file missing/plugin.py does not exist"),
    ("broken.py", "import no_such_module_xyz\n", "plugin file broken.py failed to import: ModuleNotFoundError"),
    ("no_such_plugin_module", "", "plugin 'no_such_plugin_module' is not a built-in plugin, an importable module"),
    ("nomad", "", "plugin 'nomad' is not a built-in plugin, an importable module or a .py file, so it is not "
                  "available here (registered plugins: docker, filesystem, k8s, kubernetes, swarm, test)"),
])
def test_plugin_specs_that_cannot_load(runner: Runner, spec: str, body: str | None, expected: str) -> None:
    if body is None:
        plugin_file(runner.cwd / spec, extra="""
            class Second(MyPlugin):
                pass
            """)
    elif body:
        (runner.cwd / spec).write_text(body)
    res = runner.action(spec, "plugin_start", runner.config("c.yaml", {}))
    assert res.rc == 1
    assert expected in res.stderr
    assert "fix:" in res.stderr
    status = check_status_shape(res)
    assert status["status"] == "failing" and expected in status["msg"]


def test_plugin_by_module_name_and_by_path_without_suffix(runner: Runner) -> None:
    pkg = runner.cwd / "mods"
    pkg.mkdir()
    plugin_file(pkg / "my_company_plugin.py")
    cfg = runner.config("c.yaml", {})
    res = runner.action("my_company_plugin", "plugin_stop", cfg, env={"PYTHONPATH": str(pkg)})
    assert (res.rc, check_status_shape(res)["status"]) == (0, "passing"), res.stderr
    res = runner.action("mods/my_company_plugin", "plugin_start", cfg)
    assert (res.rc, check_status_shape(res)["status"]) == (2, "warning"), res.stderr


def test_usage_errors_exit_2(runner: Runner) -> None:
    assert runner("--action", "pe_status", status=False).rc == 2
    res = runner("--plugin", "test", "--action", "pe_status", "--config", "c.yaml", "--log-level", "loud",
                 status=False)
    assert res.rc == 2 and "--log-level" in res.stderr
    res = runner("--gen-config", "--action", "deploy", status=False)
    assert res.rc == 2 and "not an action" in res.stderr


def test_status_file_in_a_missing_dir_is_an_error_and_the_status_is_printed(runner: Runner) -> None:
    cfg = runner.config("c.yaml", {"baseDir": str(runner.cwd)})
    res = runner("--plugin", "filesystem", "--action", "pe_status", "--config", cfg, "--status-file",
                 runner.cwd / "no" / "status.yaml", status=False)
    assert res.rc == 1
    assert "cannot write status file" in res.stderr
    assert yaml.safe_load(res.stdout)["status"] == "passing"


def test_pe_info_deployments_may_be_ids_or_mappings(runner: Runner) -> None:
    state = runner.cwd / "state"
    plugin = {"tmp_dir": str(state), "plugin_start_time": 0, "pe_status_time_sec": 0}
    pe = {"id": PE_ID, "deployments": [DEP_ID, deployment(), 1234]}
    assert runner.action("test", "plugin_start", runner.config("c.yaml", plugin, peInfo=pe)).rc == 0
    res = runner.action("test", "pe_status", runner.config("c.yaml", plugin, peInfo=pe))
    status = check_status_shape(res)
    assert (res.rc, sorted(status["data"]["deploymentsStatus"])) == (0, ["1234", DEP_ID])
