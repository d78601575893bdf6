"""DataRobot's `bosun.plugin.plugin_runner` surface (PluginRunner, main, gen_config_sample, ...) over our runner.

Code that drives DataRobot's runner class from Python gets the same names, signatures and results; the
command line itself is `bosun_local.plugins.framework.runner` (`bosun-plugin-runner`).
"""
from __future__ import annotations

import argparse
import importlib.resources
import logging
import logging.config
import os
import sys
import textwrap
from typing import Any, NoReturn

import yaml

from bosun_local.plugins.compat import config_samples
from bosun_local.plugins.framework.action_status import ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase
from bosun_local.plugins.framework.constants import (  # noqa: F401  (DataRobot's module offers these here too)
    BosunPluginActions,
    BosunPluginConfigConstants,
    DeploymentInfoConfigConstants,
    DeploymentState,
    EndpointConfigConstants,
    PeInfoConfigConstants,
)
from bosun_local.plugins.framework.execution import execute_action, failed
from bosun_local.plugins.framework.handover import runner_plugin_config
from bosun_local.plugins.framework.loader import load_plugin_class
from bosun_local.plugins.framework.runner import build_parser
from bosun_local.plugins.framework.runner import main as runner_main

action_to_config = {
    BosunPluginActions.PLUGIN_START: "plugin_start_config.yaml",
    BosunPluginActions.PLUGIN_STOP: "plugin_stop_config.yaml",
    BosunPluginActions.PE_STATUS: "pe_status_config.yaml",
    BosunPluginActions.DEPLOYMENT_START: "deployment_start_config.yaml",
    BosunPluginActions.DEPLOYMENT_STOP: "deployment_stop_config.yaml",
    BosunPluginActions.DEPLOYMENT_LIST: "deployment_list_config.yaml",
    BosunPluginActions.DEPLOYMENT_STATUS: "deployment_status_config.yaml",
    BosunPluginActions.DEPLOYMENT_REPLACE_MODEL: "deployment_replace_model_config.yaml",
    BosunPluginActions.ENDPOINT_UPDATE: "endpoint_update_config.yaml",
}


class PluginRunner:
    """Load a plugin (built-in name, module or .py path), run one action on it, write the status file."""

    description = """
        Run a management-agent plugin action with bosun-local's plugin runner: the plugin is a built-in name
        (see --list-plugins), an importable module, or the path of a .py file holding one BosunPluginBase class.
    """
    builtin_plugins: dict[str, dict[str, Any]] = {
        "test": {"module": "bosun_local.plugins.test", "names": ["test"]},
        "filesystem": {"module": "bosun_local.plugins.filesystem", "names": ["filesystem_plugin", "filesystem"]},
        "docker": {"module": "bosun_local.plugins.docker", "names": ["docker-plugin", "docker"]},
    }

    def __init__(self, plugin: str, config_file: str, action: str, private_config_file: str | None = None,
                 status_file: str | None = None, dry_run: bool = False) -> None:
        self._plugin = plugin
        self._config_file = config_file
        self._private_config_file = private_config_file
        self._action = action
        self._status_file = status_file
        self._dry_run = dry_run
        self._logger = logging.getLogger(f"{self.__class__.__module__}.{self.__class__.__name__}")

    @staticmethod
    def parse_args() -> argparse.Namespace:
        """Parse the command line of bosun-plugin-runner."""

        return build_parser().parse_args()

    @staticmethod
    def get_configs(config_file: str, logger: logging.Logger, requires_deployment_config: bool = False,
                    requires_endpoint_config: bool = False) -> tuple[Any, Any, Any, Any]:
        """Return (pluginConfig with the runner's additions, peInfo, deploymentInfo, endpointInfo) of a file."""
        logger.debug("Reading configuration from: %s", config_file)
        with open(config_file) as config_fh:
            config = yaml.safe_load(config_fh) or {}
        required = ((BosunPluginConfigConstants.PLUGIN_CONFIG_KEY, True), (PeInfoConfigConstants.PE_INFO_KEY, True),
                    (DeploymentInfoConfigConstants.DEPLOYMENT_INFO_KEY, requires_deployment_config),
                    (EndpointConfigConstants.ENDPOINT_KEY, requires_endpoint_config))
        for key, needed in required:
            if needed and config.get(key) is None:
                raise Exception(f"Missing the '{key}' section in the YAML configuration")
        plugin_config = runner_plugin_config(config[BosunPluginConfigConstants.PLUGIN_CONFIG_KEY], os.environ)
        return (plugin_config, config.get(PeInfoConfigConstants.PE_INFO_KEY),
                config.get(DeploymentInfoConfigConstants.DEPLOYMENT_INFO_KEY),
                config.get(EndpointConfigConstants.ENDPOINT_KEY))

    def _module_of(self, plugin: str) -> str:
        for info in self.builtin_plugins.values():
            if plugin in info["names"]:
                return str(info["module"])
        return plugin

    def load_plugin_object(self, module_name: str, plugin_config: dict[str, Any], private_config_file: str | None,
                           pe_info: dict[str, Any] | None, deployment_info: dict[str, Any] | None,
                           endpoint_info: dict[str, Any] | None) -> BosunPluginBase:
        """Import the plugin's module or file and return its one plugin class, created with these sections."""
        plugin = load_plugin_class(module_name)(plugin_config, private_config_file, pe_info, self._dry_run)
        plugin._set_deployment_info(deployment_info)
        plugin._set_endpoint_info(endpoint_info)
        return plugin

    def run(self) -> ActionStatusInfo:
        """Run the action and write its status file; a plugin that cannot load gives a failing status."""
        needs = self._action in BosunPluginActions.require_deployment_info()
        plugin_config, pe_info, deployment_info, endpoint_info = self.get_configs(self._config_file, self._logger,
                                                                                  needs)
        try:
            plugin = self.load_plugin_object(self._module_of(self._plugin), plugin_config,
                                             self._private_config_file, pe_info, deployment_info, endpoint_info)
        except Exception as exc:
            status = failed(f"Exception occurred while loading plugin object for action {self._action}: "
                            f"error {exc}")
            self._logger.error(status.msg)
            status.write_to_file(status_file=self._status_file)
            return status
        status = execute_action(plugin, self._action, deployment_info, endpoint_info)
        status.write_to_file(status_file=self._status_file)
        return status


def gen_config_sample(config_file: str, action: str) -> None:
    """Write the sample action config of `action` to config_file ('-': stdout)."""
    if action not in action_to_config:
        print(f"Unable to generate a sample config file for action: {action}")
        raise SystemExit(1)
    sample = importlib.resources.files(config_samples).joinpath(action_to_config[action]).read_text()
    text = (f"# The following is an example of plugin configuration file\n# for action: {action}\n"
            f"#----------------------------------------------------------\n\n{textwrap.dedent(sample)}\n")
    if config_file == "-":
        sys.stdout.write(text)
    else:
        with open(config_file, "w") as out:
            out.write(text)


def set_logging(options: argparse.Namespace) -> None:
    """Configure logging from --log-config (a dictConfig YAML), else --log-level and --logfile."""
    if getattr(options, "log_config", None):
        with open(options.log_config) as fh:
            logging.config.dictConfig(yaml.safe_load(fh))
        return
    level = str(options.log_level).upper()
    handler: logging.Handler = (logging.FileHandler(options.logfile) if options.logfile
                                else logging.StreamHandler(sys.stdout))
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s: %(name)s %(message)s"))
    logging.root.setLevel(level)
    logging.root.addHandler(handler)


def handle_shutdown_signal(*args: Any) -> NoReturn:
    """Turn SIGTERM into KeyboardInterrupt, as DataRobot's runner does."""
    logging.info("Got signal; starting shutdown")
    raise KeyboardInterrupt


def main() -> None:
    """Run bosun-local's bosun-plugin-runner."""
    runner_main()


__all__ = ["ActionStatus", "PluginRunner", "action_to_config", "gen_config_sample", "handle_shutdown_signal",
           "main", "set_logging"]
