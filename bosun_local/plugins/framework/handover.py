"""What the runner adds to a plugin's `pluginConfig`, as DataRobot's runner does: the API token and SSL choice."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bosun_local.plugins.framework.constants import BosunPluginConfigConstants as K


def runner_plugin_config(plugin_config: Mapping[str, Any] | None, environ: Mapping[str, str]) -> dict[str, Any]:
    """Return pluginConfig plus mlopsApiToken (from $MLOPS_API_TOKEN, when set) and MLOPS_AGENT_VERIFY_SSL.

    The agent hands the token over in the environment, never in the config file, and the runner passes it on.
    SSL is verified unless $MLOPS_AGENT_VERIFY_SSL is "false".
    """
    config = dict(plugin_config or {})
    if K.MLOPS_API_TOKEN_ENV in environ:
        config[K.MLOPS_API_TOKEN_KEY] = environ[K.MLOPS_API_TOKEN_ENV]
    config[K.MLOPS_AGENT_VERIFY_SSL] = environ.get(K.MLOPS_AGENT_VERIFY_SSL, "true").lower() != "false"
    return config
