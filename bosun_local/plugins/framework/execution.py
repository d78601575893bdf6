"""Run plugin actions in process from an action config: every failure becomes a failing status, never a traceback."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import yaml

from bosun_local.errors import BosunError, ConfigError
from bosun_local.plugins.framework.action_config import validate_action_config
from bosun_local.plugins.framework.action_status import ActionInterrupted, ActionStatus, ActionStatusInfo, failed
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase, execute_action
from bosun_local.plugins.framework.loader import load_plugin_class

log = logging.getLogger(__name__)
__all__ = ["ActionInterrupted", "execute_action", "failed", "read_status_file", "run_action"]


def run_action(plugin: type[BosunPluginBase] | str, action: str, config: dict[str, Any],
               private_config_file: str | Path | None = None, dry_run: bool = False) -> ActionStatusInfo:
    """Validate the action config, load and create the plugin, run the action; always return a status."""
    start = time.monotonic()
    try:
        checked = validate_action_config(config, action)
    except BosunError as exc:
        status = failed(f"cannot run action {action}: {exc}", round(time.monotonic() - start, 4))
        log.error(status.msg)
        return status
    try:
        if isinstance(plugin, str):
            plugin = load_plugin_class(plugin)
        instance = plugin(checked.plugin_config, str(private_config_file) if private_config_file else None,
                          checked.pe_info, dry_run)
    except ActionInterrupted as exc:
        return failed(f"action {action} was {exc} before it started", round(time.monotonic() - start, 4))
    except (Exception, SystemExit) as exc:
        # DataRobot's runner's wording for a plugin that cannot be imported or created.
        status = failed(f"Exception occurred while loading plugin object for action {action}: error {exc}",
                        round(time.monotonic() - start, 4))
        log.error(status.msg)
        return status
    # As DataRobot's runner does: every action sees both sections, whichever it uses.
    instance._set_deployment_info(checked.deployment_info)
    instance._set_endpoint_info(checked.endpoint_info)
    status = execute_action(instance, action, checked.deployment_info, checked.endpoint_info, checked.scale_info)
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
