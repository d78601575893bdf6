"""DataRobot's own plugins, copied unchanged from the datarobot-bosun wheel, run through our bosun-plugin-runner.

Every action of DataRobot's config_samples and a full lifecycle run twice, in two identical directory trees:
once through DataRobot's own runner (from the wheel), once through ours. The status files must match field by
field (timestamps and durations excepted; each tree's root path is replaced by `<world>`). Our built-in filesystem
and test plugins run the same sequence and must give DataRobot's results, except the documented differences.
"""
from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.plugins import datarobot_bosun as drb

PE_ID = "60623e3b36066bf8561aea86"
DEP_ID = "606649d71a9dfaacb8a72af2"
OTHER_ID = "6063c5cd8cabd7e6e12e1a36"
MODEL_A = "5f764a99c5306348792ac65f"
MODEL_B = "5f764cbbe786f5618d195201"
TOKEN = "parity-test-token-0123456789"
ZERO_SLEEPS = {k: 0 for k in ("launch_time_sec", "stop_time_sec", "replace_model_time_sec", "pe_status_time_sec",
                              "deployment_status_time_sec", "deployment_list_time_sec", "plugin_start_time",
                              "plugin_stop_time")}


@dataclass
class Step:
    """One action: its config, extra private-config settings and environment."""

    name: str
    action: str
    config: dict[str, Any]
    private: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def site() -> Path:
    return drb.install()


@pytest.fixture(scope="module")
def plugin_files(site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return drb.copy_plugins(site, tmp_path_factory.mktemp("datarobot-plugins"))


class World:
    """One directory tree a runner works in: baseDir, the test plugin's tmp_dir, artifacts, configs, status files."""

    def __init__(self, root: Path, plugin: str) -> None:
        self.root = root
        self.plugin = plugin
        for sub in ("base", "tmp", "artifacts", "work"):
            (root / sub).mkdir(parents=True)
        (root / "artifacts" / "model_a.mlpkg").write_bytes(b"model A " * 64)
        (root / "artifacts" / "model_b.mlpkg").write_bytes(b"model B " * 64)

    def private_config(self, extra: dict[str, Any]) -> Path:
        """Write the plugin's private config: YAML for the filesystem plugin, JSON for the test plugin (as theirs)."""
        path = self.root / "work" / f"private-{len(list((self.root / 'work').glob('private-*')))}"
        if self.plugin == "filesystem":
            values = {"baseDir": str(self.root / "base"), "deploymentDirPrefix": "dep_",
                      "deploymentInfoFile": "config.yml", "deploymentPredictionBaseUrl": "http://127.0.0.1:8080",
                      "deploymentKVFile": "kv.yml", **extra}
            path.write_text(yaml.safe_dump(values))
        else:
            path.write_text(json.dumps({"tmp_dir": str(self.root / "tmp"), **ZERO_SLEEPS, **extra}))
        return path

    def run(self, which: str, site: Path, plugin_spec: str, step: Step) -> drb.Run:
        """Run one step with DataRobot's runner or ours."""
        config = self.root / "work" / f"{step.name}.yaml"
        text = yaml.safe_dump(step.config).replace("<world>", str(self.root))
        config.write_text(text)
        args = ["--plugin", plugin_spec, "--action", step.action, "--config", str(config),
                "--private-config", str(self.private_config(step.private)), "--exit-codes"]
        return drb.run_runner(which, site, args, self.root / "work" / f"{step.name}.status.yaml", self.root / "work",
                              env=step.env)


def lifecycle(samples: dict[str, dict[str, Any]]) -> list[Step]:
    """Return DataRobot's samples as they are, then start -> status -> list -> replace -> pe_status -> stop."""
    steps = [Step(f"sample-{action}", action, config) for action, config in samples.items()]
    plugin_config = copy.deepcopy(samples["deployment_start"]["pluginConfig"])
    pe = {"id": PE_ID, "name": "parity", "createdOn": "2021-03-29T20:53:15.814792Z", "keyValueConfig": {}}

    def deployment(model: str, artifact: str | None, **extra: Any) -> dict[str, Any]:
        return {"id": DEP_ID, "name": "parity deployment", "description": None, "modelId": model,
                "modelExecutionType": "dedicated", "modelFormat": "datarobot", "modelArtifact": artifact,
                "keyValueConfig": {"tier": "gold"}, **extra}

    started = deployment(MODEL_A, "<world>/artifacts/model_a.mlpkg")
    replaced = deployment(MODEL_A, "<world>/artifacts/model_b.mlpkg", newModelId=MODEL_B)
    everyone = [deployment(MODEL_B, None), {**deployment(MODEL_A, None), "id": OTHER_ID}]

    def config(deployment_info: dict[str, Any] | None = None, pe_info: dict[str, Any] | None = None,
               **plugin_extra: Any) -> dict[str, Any]:
        return {"pluginConfig": {**plugin_config, **plugin_extra}, "peInfo": pe_info or pe,
                "deploymentInfo": deployment_info}

    steps += [
        Step("plugin_start", "plugin_start", config()),
        Step("start", "deployment_start", config(started, {**pe, "deployments": [DEP_ID]})),
        Step("status", "deployment_status", config(started)),
        Step("list", "deployment_list", config()),
        Step("replace", "deployment_replace_model", config(replaced)),
        Step("status-after-replace", "deployment_status", config(deployment(MODEL_B, None))),
        Step("pe_status", "pe_status", config(pe_info={**pe, "deployments": everyone})),
        Step("relaunch", "deployment_relaunch", config(deployment(MODEL_B, "<world>/artifacts/model_b.mlpkg"))),
        Step("stop", "deployment_stop", config(deployment(MODEL_B, None))),
        Step("list-after-stop", "deployment_list", config()),
        Step("status-after-stop", "deployment_status", config(deployment(MODEL_B, None))),
        Step("endpoint_update", "endpoint_update", {**samples["endpoint_update"], "pluginConfig": plugin_config}),
        Step("endpoint_status", "endpoint_status", {**samples["endpoint_update"], "pluginConfig": plugin_config}),
        Step("plugin_stop", "plugin_stop", config()),
    ]
    return steps


def token_steps(samples: dict[str, dict[str, Any]]) -> list[Step]:
    """Return plugin_start runs of the test plugin that insist on the API token the agent hands over."""
    base = {**samples["plugin_start"], "peInfo": {"id": PE_ID}}
    with_url = {**base, "pluginConfig": {**base["pluginConfig"], "MLOPS_BOSUN_MONITORING_URL": "http://svc"}}
    insist = {"assert_has_api_token": True}
    return [
        Step("token-handed-over", "plugin_start", with_url, insist, {"MLOPS_API_TOKEN": TOKEN}),
        Step("token-missing", "plugin_start", with_url, insist),
        Step("url-missing", "plugin_start", base, insist, {"MLOPS_API_TOKEN": TOKEN}),
    ]


Documented = Callable[[Step, Any, Any], tuple[Any, Any]]


def compare(plugin: str, steps: list[Step], tmp: Path, site: Path, theirs_spec: str, ours_spec: str,
            documented: Documented | None = None) -> tuple[list[str], dict[str, Any]]:
    """Run every step under both runners; return the differences, step by step, and our statuses by step."""
    theirs_world, ours_world = World(tmp / "datarobot", plugin), World(tmp / "ours", plugin)
    problems: list[str] = []
    seen: dict[str, Any] = {}
    for step in steps:
        # The two trees are independent: run both runners at once (the suite runs ~150 of these pairs).
        with ThreadPoolExecutor(2) as pool:
            pending = pool.submit(theirs_world.run, "datarobot", site, theirs_spec, step)
            ours = ours_world.run("ours", site, ours_spec, step)
            theirs = pending.result()
        if theirs.status is None:
            # DataRobot's runner stops before the plugin when peInfo is null (its own plugin_start sample has
            # `peInfo: null`): a traceback, exit 1, no status file. Ours runs the action (documented difference).
            assert "Missing the 'peInfo' section" in theirs.stdout + theirs.stderr, (step.name, theirs.stderr)
            if ours.status is None or ours.status["status"] != "passing":
                problems.append(f"{step.name}: ours should run the action DataRobot's runner refuses: {ours}")
            continue
        mine = seen[step.name] = drb.normalized(ours.status, {str(ours_world.root): "<world>"})
        reference = drb.normalized(theirs.status, {str(theirs_world.root): "<world>"})
        if documented is not None:
            mine, reference = documented(step, mine, reference)
        diff = drb.field_diff(mine, reference)
        if ours.rc != theirs.rc:
            diff.append(f"exit code: ours {ours.rc} != DataRobot's {theirs.rc}")
        problems += [f"{plugin} {step.name} ({step.action}): {line}" for line in diff]
    return problems, seen


def outcome(seen: dict[str, Any], step: str) -> tuple[str, str | None]:
    """Return (status, state) of one step."""
    return seen[step]["status"], seen[step]["state"]


def check_lifecycle_did_work(plugin: str, seen: dict[str, Any]) -> None:
    """Assert the lifecycle really deployed, replaced and stopped (so equal results are not equal failures)."""
    assert outcome(seen, "start") == ("passing", "ready")
    assert outcome(seen, "status") == outcome(seen, "status-after-replace") == ("passing", "ready")
    assert seen["status-after-replace"]["data"] == {"currentModelId": MODEL_B}
    assert outcome(seen, "replace") == outcome(seen, "relaunch") == ("passing", "ready")
    assert outcome(seen, "stop") == ("passing", "stopped")
    assert outcome(seen, "status-after-stop") == ("failing", "errored")
    assert DEP_ID in seen["list"]["data"] and DEP_ID not in (seen["list-after-stop"]["data"] or {})
    assert set(seen["pe_status"]["data"]["deploymentsStatus"]) == {DEP_ID, OTHER_ID}
    assert outcome(seen, "endpoint_update")[0] == ("passing" if plugin == "test" else "failing")
    if plugin == "test":
        assert outcome(seen, "token-handed-over") == ("passing", None)
        assert seen["token-missing"]["msg"] == ("Exception occurred while running action plugin_start : error MLOps "
                                                "API token was not passed to plugin by Bosun Agent")
        assert "MLOps URL token was not passed" in seen["url-missing"]["msg"]


@pytest.mark.parametrize("plugin", ["filesystem", "test"])
def test_datarobot_plugins_run_unchanged_through_our_runner(plugin: str, site: Path, plugin_files: dict[str, Path],
                                                            tmp_path: Path) -> None:
    samples = drb.samples(site)
    steps = lifecycle(samples) + (token_steps(samples) if plugin == "test" else [])
    spec = str(plugin_files[plugin])
    problems, seen = compare(plugin, steps, tmp_path, site, spec, spec)
    assert not problems, "our runner differs from DataRobot's on DataRobot's own plugin:\n" + "\n".join(problems)
    check_lifecycle_did_work(plugin, seen)
    # Both trees end the same: the lifecycle's deployment is gone, what the samples left is in both.
    for sub in ("base", "tmp"):
        ours, theirs = tmp_path / "ours" / sub, tmp_path / "datarobot" / sub
        assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
        assert not any(DEP_ID in p.name for p in ours.iterdir())


def builtin_differences(step: Step, ours: Any, theirs: Any) -> tuple[Any, Any]:
    """Align the documented differences of our built-ins, so everything else must be equal."""
    text = json.dumps(theirs)
    # Our PPS and traefik route by deployment id; DataRobot's URL names the directory (prefix + id).
    text = text.replace("/deployments/dep_", "/deployments/")
    return ours, json.loads(text)


@pytest.mark.parametrize("plugin", ["filesystem", "test"])
def test_our_builtin_plugins_give_datarobots_results(plugin: str, site: Path, plugin_files: dict[str, Path],
                                                      tmp_path: Path) -> None:
    samples = drb.samples(site)
    steps = lifecycle(samples) + (token_steps(samples) if plugin == "test" else [])
    problems, seen = compare(plugin, steps, tmp_path, site, str(plugin_files[plugin]), plugin, builtin_differences)
    assert not problems, f"our built-in {plugin} plugin differs from DataRobot's:\n" + "\n".join(problems)
    check_lifecycle_did_work(plugin, seen)
    if plugin == "filesystem":
        url = seen["start"]["data"]["predictionUrl"]
        assert url == f"http://127.0.0.1:8080/deployments/{DEP_ID}/predictions"


def test_list_actions_prints_datarobots_list(site: Path, tmp_path: Path) -> None:
    theirs = drb.run_runner("datarobot", site, ["--list-actions"], tmp_path / "s1", tmp_path)
    ours = drb.run_runner("ours", site, ["--list-actions"], tmp_path / "s2", tmp_path)
    assert (ours.rc, ours.stdout) == (theirs.rc, theirs.stdout) == (0, theirs.stdout)
    assert theirs.stdout.split() == ["plugin_start", "plugin_stop", "deployment_start", "deployment_stop",
                                     "deployment_replace_model", "deployment_status", "pe_status", "deployment_list",
                                     "deployment_relaunch", "endpoint_update", "endpoint_status"]


def test_a_plugin_that_cannot_import(site: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken_plugin.py"
    broken.write_text("from bosun.plugin.bosun_plugin_base import NoSuchName\n")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"pluginConfig": {}, "peInfo": {"id": PE_ID}}))
    args = ["--plugin", str(broken), "--action", "pe_status", "--config", str(config)]
    theirs = drb.run_runner("datarobot", site, args, tmp_path / "theirs.yaml", tmp_path)
    ours = drb.run_runner("ours", site, args, tmp_path / "ours.yaml", tmp_path)
    assert theirs.status and ours.status
    for status in (theirs.status, ours.status):
        assert (status["status"], status["state"]) == ("failing", "errored")
        assert status["msg"].startswith("Exception occurred while loading plugin object for action pe_status: error ")
        assert "NoSuchName" in status["msg"]
    # Documented difference: DataRobot's runner exits 0 (only the status file says it failed); ours exits 1.
    assert (theirs.rc, ours.rc) == (0, 1)
    assert "error: plugin file" in ours.stderr and "NoSuchName" in ours.stderr


def test_a_real_datarobot_bosun_is_never_shadowed(site: Path, plugin_files: dict[str, Path], tmp_path: Path) -> None:
    """With DataRobot's package importable, our runner leaves `bosun.plugin` to it and still runs its plugins."""
    world = World(tmp_path / "world", "test")
    step = Step("start", "plugin_start", {**drb.samples(site)["plugin_start"], "peInfo": {"id": PE_ID}})
    config = world.root / "work" / "start.yaml"
    config.write_text(yaml.safe_dump(step.config))
    args = ["--plugin", str(plugin_files["test"]), "--action", "plugin_start", "--config", str(config),
            "--private-config", str(world.private_config({})), "--log-level", "debug"]
    ours = drb.run_runner("ours", site, args, world.root / "work" / "status.yaml", world.root,
                          env={"PYTHONPATH": str(site)})
    assert ours.rc == 0, ours.stderr
    assert f"bosun.plugin imports resolve to DataRobot's datarobot-bosun {drb.VERSION}" in ours.stderr
    assert (ours.status or {}).get("status") == "passing", ours.stderr
    alias = drb.run_runner("ours", site, args, world.root / "work" / "status2.yaml", world.root)
    assert "bosun.plugin imports resolve to bosun-local's framework" in alias.stderr
    assert (alias.status or {}).get("status") == "passing", alias.stderr
    shutil.rmtree(world.root)


def test_another_package_named_bosun_is_left_alone(site: Path, plugin_files: dict[str, Path], tmp_path: Path) -> None:
    """PyPI has an unrelated `bosun`: the alias must not graft our bosun.plugin onto it."""
    (tmp_path / "other" / "bosun").mkdir(parents=True)
    (tmp_path / "other" / "bosun" / "__init__.py").write_text("WHO = 'someone else'\n")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"pluginConfig": {}, "peInfo": {"id": PE_ID}}))
    args = ["--plugin", str(plugin_files["filesystem"]), "--action", "pe_status", "--config", str(config),
            "--log-level", "debug"]
    run = drb.run_runner("ours", site, args, tmp_path / "status.yaml", tmp_path,
                         env={"PYTHONPATH": str(tmp_path / "other")})
    assert "that is not datarobot-bosun (its bosun.plugin is used as is)" in run.stderr, run.stderr
    assert run.rc == 1 and run.status is not None
    assert "No module named 'bosun." in run.status["msg"]  # the first bosun.* import it makes
