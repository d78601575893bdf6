"""Run a plugin action for an environment: in process (built-ins) or as the environment's external command."""
from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bosun_local.agent.plugin_config import environment_plugin_config, in_process_plugin_config
from bosun_local.contracts.states import DeploymentState
from bosun_local.plugins import ActionStatus, ActionStatusInfo, read_status_file, run_action
from bosun_local.plugins.framework.constants import BosunPluginConfigConstants

log = logging.getLogger(__name__)
RUNNER = "bosun-plugin-runner"
ACTION_CONFIG_KEYS = ("pluginConfig", "peInfo", "deploymentInfo", "endpointInfo", "scaleInfo")


def _failed(msg: str, started: float) -> ActionStatusInfo:
    return ActionStatusInfo(ActionStatus.ERROR, msg=msg, state=DeploymentState.ERROR,
                            duration=round(time.monotonic() - started, 4))


def command_argv(command: str) -> list[str]:
    """Split an environment's command; find bosun-plugin-runner next to this Python when it is not on PATH."""
    argv = shlex.split(command)
    if not argv:
        raise ValueError("the environment's command is empty")
    if "/" not in argv[0] and shutil.which(argv[0]) is None:
        sibling = Path(sys.executable).parent / argv[0]
        if sibling.exists():
            argv[0] = str(sibling)
        elif argv[0] == RUNNER:
            argv[:1] = [sys.executable, "-m", "bosun_local.plugins.framework.runner"]
    return argv


class PluginHost:
    """Run actions for environments described by the service (`platform`, `pluginConfig`, `command`)."""

    def __init__(self, work_dir: Path, action_timeout_sec: float = 900.0, facts: dict[str, Any] | None = None,
                 service_url: str | None = None, token: str | None = None) -> None:
        self.work_dir = work_dir
        self.action_timeout_sec = action_timeout_sec
        # Host facts added to every pluginConfig; the environment's own keys win (see plugin_facts).
        self.facts = dict(facts or {})
        self.service_url = service_url
        self.token = token

    def run(self, environment: dict[str, Any], action: str, config: dict[str, Any]) -> ActionStatusInfo:
        """Run one action; never raises: every failure is a failing status naming what went wrong."""
        config = {k: v for k, v in config.items() if k in ACTION_CONFIG_KEYS}
        config["pluginConfig"] = environment_plugin_config({**self.facts, **(config.get("pluginConfig") or {})},
                                                           environment, self.service_url)
        command = (environment.get("command") or "").strip()
        if command:
            return self._run_command(environment, command, action, config)
        config["pluginConfig"] = in_process_plugin_config(config["pluginConfig"], self.token)
        return run_action(str(environment.get("platform") or ""), action, config)

    def _run_command(self, environment: dict[str, Any], command: str, action: str,
                     config: dict[str, Any]) -> ActionStatusInfo:
        started = time.monotonic()
        try:
            argv = command_argv(command)
        except ValueError as exc:
            return _failed(f"environment {environment.get('name')}: command {command!r} is not usable: {exc}",
                           started)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"{action}-", dir=self.work_dir) as tmp:
            config_file, status_file = Path(tmp) / "config.yaml", Path(tmp) / "status.yaml"
            config_file.write_text(yaml.safe_dump(config, sort_keys=False))
            full = [*argv, "--action", action, "--config", str(config_file), "--status-file", str(status_file)]
            try:
                env = os.environ.copy()
                if self.token:  # as DataRobot's agent: the runner passes it on as pluginConfig['mlopsApiToken']
                    env[BosunPluginConfigConstants.MLOPS_API_TOKEN_ENV] = self.token
                proc = subprocess.run(full, capture_output=True, text=True, timeout=self.action_timeout_sec,
                                      env=env, check=False)
            except subprocess.TimeoutExpired:
                return _failed(f"plugin command of environment {environment.get('name')} did not finish {action} "
                               f"within {self.action_timeout_sec:g} s: {' '.join(full)}", started)
            except OSError as exc:
                return _failed(f"cannot run the plugin command of environment {environment.get('name')} "
                               f"({' '.join(full)}): {exc.strerror}", started)
            if not status_file.exists():
                tail = (proc.stderr or proc.stdout or "").strip()[-1500:]
                return _failed(f"plugin command {' '.join(argv)} exited {proc.returncode} without writing a status "
                               f"for {action}:\n{tail}", started)
            try:
                status = read_status_file(status_file)
            except Exception as exc:  # a half-written or foreign file: report it, never crash the agent
                return _failed(f"plugin command {' '.join(argv)} wrote an unreadable status for {action}: {exc}",
                               started)
        if status.duration is None:
            status.set_duration(round(time.monotonic() - started, 4))
        log.debug("%s via %s: %s", action, argv[0], status.status)
        return status
