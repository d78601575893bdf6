"""Run plugin actions in process: every failure becomes a failing ActionStatusInfo, never a traceback."""
from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from typing import Any

import yaml

from bosun_local.errors import BosunError, ConfigError
from bosun_local.plugins.framework.action_config import validate_action_config
from bosun_local.plugins.framework.action_status import ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase
from bosun_local.plugins.framework.constants import BosunPluginActions as A
from bosun_local.plugins.framework.constants import DeploymentState
from bosun_local.plugins.framework.deployment_info import DeploymentInfo
from bosun_local.plugins.framework.endpoint_info import EndpointInfo

log = logging.getLogger(__name__)


class ActionInterrupted(BaseException):
    """Raised in the action's thread when the runner is told to stop (SIGTERM, SIGINT).

    A BaseException, so a plugin's `except Exception` cleanup cannot swallow it.
    """

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"interrupted by {signal_name}")
        self.signal_name = signal_name


def failed(msg: str, duration: float | None = None, state: str = DeploymentState.ERROR) -> ActionStatusInfo:
    """Return the failing status the framework reports when an action could not produce its own."""
    return ActionStatusInfo(ActionStatus.ERROR, msg=msg, state=state, duration=duration)


def _dispatch(plugin: BosunPluginBase, action: str, deployment_info: dict[str, Any] | None,
              endpoint_info: dict[str, Any] | None) -> Any:
    if action == A.PLUGIN_START:
        return plugin.plugin_start()
    if action == A.PLUGIN_STOP:
        return plugin.plugin_stop()
    if action == A.DEPLOYMENT_LIST:
        return plugin.deployment_list()
    if action == A.PE_STATUS:
        return plugin.pe_status()
    if action in (A.ENDPOINT_UPDATE, A.ENDPOINT_STATUS):
        plugin._set_endpoint_info(endpoint_info or {})
        info = EndpointInfo(endpoint_info)
        return plugin.endpoint_update(info) if action == A.ENDPOINT_UPDATE else plugin.endpoint_status(info)
    if action not in A.ALL:
        raise ValueError(f"action {action!r} is not supported; known actions: {', '.join(A.ALL)}")
    if deployment_info is None:
        raise ValueError(f"action {action} needs deploymentInfo in the action config")
    plugin._set_deployment_info(deployment_info)
    if action == A.DEPLOYMENT_STOP:
        return plugin.deployment_stop(str(deployment_info["id"]))
    info = DeploymentInfo(deployment_info)
    if action == A.DEPLOYMENT_START:
        return plugin.deployment_start(info)
    if action == A.DEPLOYMENT_REPLACE_MODEL:
        return plugin.deployment_replace_model(info)
    if action == A.DEPLOYMENT_STATUS:
        return plugin.deployment_status(info)
    return plugin.deployment_relaunch(info)


def execute_action(plugin: BosunPluginBase, action: str, deployment_info: dict[str, Any] | None = None,
                   endpoint_info: dict[str, Any] | None = None) -> ActionStatusInfo:
    """Run one action on a plugin instance; record its duration; turn any failure into a failing status."""
    start = time.monotonic()
    name = type(plugin).__name__
    try:
        result = _dispatch(plugin, action, deployment_info, endpoint_info)
        if not isinstance(result, ActionStatusInfo):
            raise TypeError(f"{name}.{action} returned {type(result).__name__} {result!r:.80}, "
                            f"not an ActionStatusInfo")
        status = result
    except ActionInterrupted as exc:
        status = failed(f"action {action} of plugin {name} was {exc} after "
                        f"{time.monotonic() - start:.1f}s; it did not finish")
        log.error(status.msg)
    except (Exception, SystemExit) as exc:
        what = "exited" if isinstance(exc, SystemExit) else f"raised {type(exc).__name__}"
        status = failed(f"Exception occurred while running action {action} : plugin {name} {what}: {exc}")
        log.error(status.msg)
        log.debug("%s", traceback.format_exc())
    status.set_duration(round(time.monotonic() - start, 4))
    return status


def run_action(plugin: type[BosunPluginBase] | str, action: str, config: dict[str, Any],
               private_config_file: str | Path | None = None, dry_run: bool = False) -> ActionStatusInfo:
    """Validate the action config, load and create the plugin, run the action; always return a status."""
    start = time.monotonic()
    try:
        checked = validate_action_config(config, action)
        if isinstance(plugin, str):
            from bosun_local.plugins.framework.loader import load_plugin_class

            plugin = load_plugin_class(plugin)
        instance = plugin(checked.plugin_config, str(private_config_file) if private_config_file else None,
                          checked.pe_info, dry_run)
    except ActionInterrupted as exc:
        return failed(f"action {action} was {exc} before it started", round(time.monotonic() - start, 4))
    except BosunError as exc:
        status = failed(f"cannot run action {action}: {exc}", round(time.monotonic() - start, 4))
        log.error(status.msg)
        return status
    except (Exception, SystemExit) as exc:
        name = getattr(plugin, "__name__", str(plugin))
        status = failed(f"cannot create plugin {name} for action {action}: {type(exc).__name__}: {exc}",
                        round(time.monotonic() - start, 4))
        log.error(status.msg)
        return status
    status = execute_action(instance, action, checked.deployment_info, checked.endpoint_info)
    status.set_duration(round(time.monotonic() - start, 4))
    return status


def read_status_file(path: str | Path) -> ActionStatusInfo:
    """Read a status file written by the runner."""
    file = Path(path)
    try:
        values = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read status file {file}: {exc}", fix="check the runner wrote it") from exc
    if not isinstance(values, dict) or not ActionStatus.is_valid(values.get("status")):
        raise ConfigError(f"status file {file} has no valid `status` key",
                          fix="the plugin runner did not finish writing it; run the action again")
    return ActionStatusInfo.from_dict(values)
