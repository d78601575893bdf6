"""The seed docs' example: a SamplePlugin in sample_plugin/sample_plugin.py, run with the documented command."""
from __future__ import annotations

import textwrap

import yaml
from plugin_helpers import DEP_ID, MODEL_A, PE_ID, Runner, check_status_shape, deployment

# Written as against the DataRobot docs; only the imports say bosun_local.plugins instead of bosun.plugin.
SAMPLE_PLUGIN = '''
from bosun_local.plugins.framework.action_status import ActionDataFields, ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase
from bosun_local.plugins.framework.constants import DeploymentState
from bosun_local.plugins.framework.deployment_info import DeploymentInfo


class SamplePlugin(BosunPluginBase):
    def __init__(self, plugin_config, private_config_file=None, pe_info=None, dry_run=False):
        super().__init__(plugin_config, private_config_file, pe_info, dry_run)

    def plugin_start(self):
        self._logger.info("Plugin start called")
        return ActionStatusInfo(ActionStatus.OK)

    def plugin_stop(self):
        return ActionStatusInfo(ActionStatus.OK)

    def deployment_list(self):
        return ActionStatusInfo(ActionStatus.OK, data={})

    def deployment_start(self, di: DeploymentInfo):
        self._logger.info(f"Deployment {di.id} is being deployed")
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY,
                                msg=f"{di.name} {di.model_id} {di.kv_config}",
                                data={ActionDataFields.PREDICTION_URL: self._plugin_config["url"] + di.id})

    def deployment_stop(self, deployment_id: str):
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.STOPPED)

    def deployment_replace_model(self, di: DeploymentInfo):
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY)

    def pe_status(self):
        self._logger.info("Checking status of prediction environment %s", self._pe_info.id)
        return ActionStatusInfo(ActionStatus.OK, msg=f"Connection OK to {self._pe_info.name}")

    def deployment_status(self, di: DeploymentInfo):
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY)
'''


def test_documented_sample_plugin_command(runner: Runner) -> None:
    (runner.cwd / "sample_plugin").mkdir()
    (runner.cwd / "sample_plugin" / "sample_plugin.py").write_text(textwrap.dedent(SAMPLE_PLUGIN))
    config = runner.config("config.yaml", {"url": "http://pe.local/"}, peInfo={"id": PE_ID, "name": "laptop"})
    res = runner("--plugin", "sample_plugin/sample_plugin", "--action", "pe_status", "--config", config,
                 "--show-status")
    status = check_status_shape(res)
    assert res.rc == 0, res.stderr
    assert (status["status"], status["msg"], status["state"], status["data"]) == (
        "passing", "Connection OK to laptop", None, None)
    assert yaml.safe_load(res.stdout) == status
    assert f"Checking status of prediction environment {PE_ID}" in res.stderr

    config = runner.config("start.yaml", {"url": "http://pe.local/"}, deploymentInfo=deployment(MODEL_A))
    res = runner("--plugin", "sample_plugin/sample_plugin.py", "--action", "deployment_start", "--config", config)
    status = check_status_shape(res)
    assert (res.rc, status["status"], status["state"]) == (0, "passing", "ready")
    assert status["msg"] == f"diabetes {MODEL_A} {{'tier': 'gold'}}"
    assert status["data"] == {"predictionUrl": f"http://pe.local/{DEP_ID}"}
