"""DataRobot's own plugins under our management agent: pluginConfig keys, token hand-over, a full lifecycle.

No Docker: the service and the agent run as host processes, and the environments' plugins are DataRobot's
test and filesystem plugins, copied unchanged from the datarobot-bosun wheel and run as external commands.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bosun_local.agent.plugin_config import environment_plugin_config
from bosun_local.agent.plugin_host import PluginHost
from bosun_local.client import ServiceClient
from bosun_local.contracts.actions import PLUGIN_ACTION_FOR
from tests.agent.packages import diabetes_package
from tests.plugins import datarobot_bosun as drb
from tests.support.service import running_service

BIN = Path(sys.executable).parent
TOKEN = "agent-token-0123456789abcdef"
RECORDER = '''
import json, sys
from bosun.plugin.action_status import ActionStatus, ActionStatusInfo
from bosun.plugin.bosun_plugin_base import BosunPluginBase

class Recorder(BosunPluginBase):
    def plugin_start(self):
        config_file = sys.argv[sys.argv.index("--config") + 1] if "--config" in sys.argv else None
        in_file = config_file is not None and TOKEN in open(config_file).read()
        with open(self._plugin_config["out"], "w") as out:
            json.dump({"pluginConfig": self._plugin_config, "tokenInConfigFile": in_file}, out)
        return ActionStatusInfo(ActionStatus.OK)

    plugin_stop = deployment_list = pe_status = plugin_start

    def deployment_start(self, di): return self.plugin_start()
    def deployment_stop(self, deployment_id): return self.plugin_start()
    def deployment_replace_model(self, di): return self.plugin_start()
    def deployment_status(self, di): return self.plugin_start()
'''.replace("TOKEN", repr(TOKEN))


def test_plugin_host_passes_datarobots_plugin_config_and_the_token(tmp_path: Path) -> None:
    plugin = tmp_path / "recorder_plugin.py"
    plugin.write_text(RECORDER)
    host = PluginHost(tmp_path / "work", service_url="http://service:8765", token=TOKEN)
    environment = {"id": "e" * 24, "name": "dr", "platform": "test",
                   "command": f"bosun-plugin-runner --plugin {plugin}"}
    out = tmp_path / "command.json"
    status = host.run(environment, "plugin_start", {"pluginConfig": {"out": str(out)}, "peInfo": {"id": "e" * 24}})
    assert status.status == "passing", status.msg
    seen = json.loads(out.read_text())
    assert seen["pluginConfig"] == {
        "out": str(out), "MLOPS_BOSUN_PRED_ENV_ID": "e" * 24, "MLOPS_BOSUN_PRED_ENV_TYPE": "ExternalCommand",
        "MLOPS_BOSUN_PRED_ENV_PLATFORM": "test", "MLOPS_BOSUN_PRED_ENV_ENABLE_MONITORING": False,
        "command": environment["command"], "MLOPS_BOSUN_MONITORING_URL": "http://service:8765",
        "mlopsUrl": "http://service:8765", "mlopsApiToken": TOKEN, "MLOPS_AGENT_VERIFY_SSL": True}
    assert seen["tokenInConfigFile"] is False  # handed over in the environment, never written to disk

    in_process = {"id": "f" * 24, "name": "dr", "platform": str(plugin)}
    out2 = tmp_path / "in-process.json"
    status = host.run(in_process, "plugin_start", {"pluginConfig": {"out": str(out2), "monitoringEnabled": True},
                                                   "peInfo": {"id": "f" * 24}})
    assert status.status == "passing", status.msg
    seen = json.loads(out2.read_text())["pluginConfig"]
    assert (seen["MLOPS_BOSUN_PRED_ENV_TYPE"], seen["MLOPS_BOSUN_PRED_ENV_ENABLE_MONITORING"]) == ("BosunLocal", True)
    assert (seen["mlopsApiToken"], seen["MLOPS_AGENT_VERIFY_SSL"]) == (TOKEN, True) and "command" not in seen


@dataclass
class Stack:
    """The service and an agent as host processes, with DataRobot's plugins copied next to them."""

    home: Path
    url: str
    token: str
    plugins: dict[str, Path]
    agent: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "BOSUN_HOME": str(self.home), "BOSUN_SERVICE_URL": self.url}

    def cli_json(self, *args: str) -> Any:
        proc = subprocess.run([str(BIN / "bosun-local"), *args, "--json"], env=self.env, capture_output=True,
                              text=True, timeout=180)
        assert proc.returncode == 0, f"bosun-local {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}\n{self.log()}"
        return json.loads(proc.stdout)

    def client(self) -> ServiceClient:
        return ServiceClient(url=self.url, token=self.token)

    def start_agent(self) -> None:
        log = open(self.home / "agent.log", "ab")  # noqa: SIM115  (the agent process owns it)
        self.agent = subprocess.Popen([str(BIN / "bosun-local"), "agent", "run", "--status-interval-sec", "1",
                                       "--command-status-interval-sec", "1", "--poll-sec", "0.1"],
                                      env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def stop_agent(self) -> None:
        if self.agent is not None and self.agent.poll() is None:
            self.agent.terminate()
            self.agent.wait(60)

    def log(self) -> str:
        path = self.home / "agent.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-40:]) if path.exists() else ""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    site = drb.install()
    plugins = drb.copy_plugins(site, tmp_path / "datarobot-plugins")
    home = tmp_path / "home"
    with running_service(home) as (url, token):
        stack = Stack(home, url, token, plugins)
        try:
            yield stack
        finally:
            stack.stop_agent()


def events(stack: Stack, type_: str, environment: str) -> list[dict[str, Any]]:
    """Return one environment's events of a type, newest first."""
    with stack.client() as client:
        return [e for e in client.list_events(types=[type_]) if e.get("environmentId") == environment]


def test_datarobots_test_plugin_full_lifecycle_under_the_agent(stack: Stack, tmp_path: Path) -> None:
    state = tmp_path / "dr-state"
    state.mkdir()
    private = tmp_path / "test-plugin.json"
    # assert_has_api_token: DataRobot's plugin fails plugin_start unless the agent handed over token and URL.
    private.write_text(json.dumps({"tmp_dir": str(state), "assert_has_api_token": True,
                                   **{k: 0 for k in ("launch_time_sec", "stop_time_sec", "replace_model_time_sec",
                                                     "pe_status_time_sec", "deployment_status_time_sec",
                                                     "deployment_list_time_sec", "plugin_start_time",
                                                     "plugin_stop_time")}}))
    command = f"bosun-plugin-runner --plugin {stack.plugins['test']} --private-config {private}"
    with stack.client() as client:
        env = client.create_environment("datarobot-test", "test", plugin_config={}, command=command)
    package_a = stack.cli_json("packages", "register", str(diabetes_package(tmp_path / "a")))["id"]
    package_b = stack.cli_json("packages", "register", str(diabetes_package(tmp_path / "b", alpha=1.0)))["id"]
    stack.start_agent()

    started = drb.wait_for(lambda: events(stack, "plugin_started", environment=env["id"]), 60, "plugin_start")
    assert started[0]["status"] == "passing", (started, stack.log())  # token and URL reached DataRobot's plugin
    assert yaml.safe_load((state / f"pe_{env['id']}.yaml").read_text())["state"] == "running"

    dep = stack.cli_json("deploy", package_a, "--name", "dr-test", "--env", "datarobot-test", "--wait")["deployment"]
    assert dep["state"] == "ready", stack.log()
    recorded = state / f"deployment_{dep['id']}.yaml"
    assert yaml.safe_load(recorded.read_text())["model_id"] == package_a

    # pe_status with the deployment as a mapping (as DataRobot's agent sends it): DataRobot's plugin reports it.
    drb.wait_for(lambda: "status_timestamp" in (yaml.safe_load(recorded.read_text()) or {}), 30,
                 "DataRobot's plugin to check the deployment in pe_status")
    assert "status_timestamp" in yaml.safe_load((state / f"pe_{env['id']}.yaml").read_text())

    replaced = stack.cli_json("deployments", "replace-model", dep["id"], package_b, "--wait")
    assert replaced["deployment"]["state"] == "ready", (replaced, stack.log())
    assert yaml.safe_load(recorded.read_text())["model_id"] == package_b

    # deployment_list at agent start: a deployment the plugin no longer lists is started again.
    stack.stop_agent()
    recorded.unlink()
    stack.start_agent()
    drb.wait_for(recorded.exists, 60, "the reconciling agent to start the missing deployment again")
    assert yaml.safe_load(recorded.read_text())["model_id"] == package_b

    stopped = stack.cli_json("deployments", "stop", dep["id"], "--wait")
    assert stopped["deployment"]["state"] == "stopped", stack.log()
    assert not recorded.exists()

    # Every action the agent ran, replayed through DataRobot's own runner on the same action config: same status.
    replay = tmp_path / "replay"
    replay.mkdir()
    replay_private = tmp_path / "replay.json"
    replay_private.write_text(private.read_text().replace(str(state), str(replay)))
    with stack.client() as client:
        actions = list(reversed(client.list_actions(dep["id"])))
        configs = [client.action_config(dep["id"], a["type"], action_id=a["id"]) for a in actions]
    # (The reconciling start runs in the agent's lane, not as a queued action.)
    assert [a["type"] for a in actions] == ["deployment_start", "deployment_replace_model", "deployment_stop"]
    problems = []
    for action, config in zip(actions, configs, strict=True):
        config_file = tmp_path / f"replay-{action['id']}.yaml"
        config_file.write_text(yaml.safe_dump({
            "pluginConfig": environment_plugin_config(config["pluginConfig"], env, stack.url),
            "peInfo": config["peInfo"], "deploymentInfo": config["deploymentInfo"]}))
        theirs = drb.run_runner("datarobot", drb.install(), [
            "--plugin", str(stack.plugins["test"]), "--private-config", str(replay_private),
            "--action", PLUGIN_ACTION_FOR[action["type"]], "--config", str(config_file)],
            tmp_path / "replay-status.yaml", tmp_path, env={"MLOPS_API_TOKEN": stack.token})
        ours = drb.normalized(action["result"], {str(state): "<state>"})
        problems += [f"{action['type']}: {line}" for line in
                     drb.field_diff(ours, drb.normalized(theirs.status, {str(replay): "<state>"}))]
    assert not problems, "the agent's results differ from DataRobot's runner's:\n" + "\n".join(problems)


def test_datarobots_filesystem_plugin_under_the_agent(stack: Stack, tmp_path: Path) -> None:
    base = tmp_path / "fs-base"
    base.mkdir()
    private = tmp_path / "fs.yaml"
    private.write_text(yaml.safe_dump({"baseDir": str(base), "deploymentDirPrefix": "dep_",
                                       "deploymentInfoFile": "config.yml",
                                       "deploymentPredictionBaseUrl": "http://127.0.0.1:8080"}))
    command = f"bosun-plugin-runner --plugin {stack.plugins['filesystem']} --private-config {private}"
    with stack.client() as client:
        env = client.create_environment("datarobot-fs", "filesystem", plugin_config={}, command=command)
    package = stack.cli_json("packages", "register", str(diabetes_package(tmp_path / "a")))["id"]
    stack.start_agent()
    started = drb.wait_for(lambda: events(stack, "plugin_started", environment=env["id"]), 60, "plugin_start")
    assert started[0]["status"] == "passing", (started, stack.log())

    # DataRobot's filesystem plugin copies one artifact file (an .mlpkg); bosun-local packages are directories,
    # so its deployment_start fails, exactly as under DataRobot's runner with a directory (documented).
    proc = subprocess.run([str(BIN / "bosun-local"), "deploy", package, "--name", "dr-fs", "--env", "datarobot-fs",
                           "--wait", "--json"], env=stack.env, capture_output=True, text=True, timeout=180)
    with stack.client() as client:
        dep = next(d for d in client.list_deployments() if d["name"] == "dr-fs")
        action = next(a for a in client.list_actions(dep["id"]) if a["type"] == "deployment_start")
    assert action["result"]["status"] == "failing", (action, proc.stdout, proc.stderr)
    assert "Is a directory" in action["result"]["msg"]
    assert [list(d.iterdir()) for d in base.iterdir()] in ([], [[]])  # at most the empty dir it made first
