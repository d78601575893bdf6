"""Print, as JSON, what `bosun.plugin`'s objects say about DataRobot's config samples: every property's type and value.

Run in a subprocess: with DataRobot's package on PYTHONPATH it probes theirs; with `--alias` ours. The argument
after the options is DataRobot's config_samples directory.
"""
from __future__ import annotations

import datetime
import inspect
import json
import sys
from pathlib import Path, PurePath
from typing import Any

import yaml


def typed(value: Any) -> Any:
    """Return a value with its type, so a str and a Path (or a datetime and its text) do not compare equal."""
    if isinstance(value, datetime.datetime):
        return ["datetime", value.isoformat()]
    if isinstance(value, PurePath):
        return ["Path", str(value)]
    if isinstance(value, dict):
        return {str(k): typed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [typed(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if callable(getattr(value, "to_dict", None)):
        return [type(value).__name__, typed(value.to_dict())]
    return [type(value).__name__, repr(value)]


def properties(obj: Any) -> dict[str, Any]:
    """Return every public property of an object; a property that raises is recorded as its exception type."""
    found = {}
    for name, attr in inspect.getmembers(type(obj)):
        if name.startswith("_") or not isinstance(attr, property):
            continue
        try:
            found[name] = typed(getattr(obj, name))
        except Exception as exc:  # e.g. DataRobot's PEInfo.deployments on bare ids
            found[name] = f"<raises {type(exc).__name__}>"
    return found


def probe(samples: Path) -> dict[str, Any]:
    """Return what the framework's classes make of each sample's sections."""
    from bosun.plugin.action_status import ActionStatus, ActionStatusInfo
    from bosun.plugin.bosun_plugin_base import BosunPluginBase
    from bosun.plugin.constants import DeploymentInfoConfigConstants
    from bosun.plugin.deployment_info import DeploymentInfo
    from bosun.plugin.endpoint_info import EndpointInfo
    from bosun.plugin.model_package_info import ModelPackageInfo
    from bosun.plugin.pe_info import PEInfo

    out: dict[str, Any] = {}
    for file in sorted(samples.glob("*_config.yaml")):
        config = yaml.safe_load(file.read_text())
        seen: dict[str, Any] = {}
        if config.get("deploymentInfo"):
            info = DeploymentInfo(config["deploymentInfo"], config.get("endpointInfo"))
            seen["deploymentInfo"] = properties(info)
            seen["deploymentInfo.to_dict"] = typed(info.to_dict())
            seen["deploymentInfo.to_yaml"] = info.to_yaml()
        if config.get("peInfo"):
            seen["peInfo"] = properties(PEInfo(config["peInfo"]))
        if config.get("endpointInfo"):
            endpoint = EndpointInfo(config["endpointInfo"])
            seen["endpointInfo"] = properties(endpoint)
            seen["endpointInfo.to_yaml"] = endpoint.to_yaml()
        out[file.name] = seen
    status = ActionStatusInfo(ActionStatus.WARN, msg="m", state="ready", data={"k": [1, 2]})
    status.timestamp = 1
    status.set_duration(0.5)
    out["ActionStatusInfo.to_yaml"] = status.to_yaml()
    out["ActionStatusInfo.to_dict"] = typed(status.to_dict())
    out["ActionStatus.to_numeric"] = ActionStatus.to_numeric
    out["suffixes"] = {str(f): DeploymentInfoConfigConstants.model_artifact_suffix(f)
                       for f in ("datarobot", "datarobotScoringCode", "pickle", None)}
    out["sanitized"] = BosunPluginBase.get_sanitized_config({"mlopsApiToken": "0123456789abcdefghij", "a": 1})
    package = ModelPackageInfo({"id": "p1", "target": {"type": "Binary", "classNames": ["yes", "no"]}})
    out["ModelPackageInfo"] = properties(package)
    out["DeploymentInfo.minimal"] = properties(DeploymentInfo({"id": "d", "modelId": "m", "modelExecutionType": "x"}))
    return out


def main(argv: list[str]) -> None:
    """Probe the samples directory given as the last argument."""
    if argv[0] == "--alias":
        from bosun_local.plugins.compat.alias import install_bosun_alias

        install_bosun_alias()
        argv = argv[1:]
    json.dump(probe(Path(argv[0])), sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
