"""DeploymentInfo: the validated `deploymentInfo` section of an action config.

The constructor, properties and defaults are those of DataRobot's `bosun.plugin.deployment_info.DeploymentInfo`
(a missing modelName is '', paths are Path objects, unknown keys are dropped). Invalid input raises
ActionConfigError naming the key; we also accept what YAML gives for an all-digit id (a number).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import yaml

from bosun_local.plugins.framework.endpoint_info import EndpointInfo
from bosun_local.plugins.framework.info_fields import (
    bool_field,
    dict_field,
    id_field,
    path_field,
    require_mapping,
    str_field,
    text_field,
)

_OPTIONAL_STR = ("name", "description", "modelFormat", "modelName", "modelDescription")
_OPTIONAL_PATH = ("modelArtifact", "featureTypes", "settings", "modelPackageDetails")


class DeploymentInfo:
    """One deployment as the agent describes it to a plugin; unknown keys are ignored."""

    def __init__(self, deployment_info: dict[str, Any], endpoint_info: dict[str, Any] | None = None) -> None:
        self._load(deployment_info, "deploymentInfo")
        self._endpoint_info = EndpointInfo(endpoint_info) if endpoint_info else None

    @classmethod
    def _from_section(cls, values: object, parent: str) -> DeploymentInfo:
        """Build one from a nested section (a peInfo deployment), errors naming `parent`."""
        info = cls.__new__(cls)
        info._load(values, parent)
        info._endpoint_info = None
        return info

    def _load(self, deployment_info: object, parent: str) -> None:
        values = require_mapping(deployment_info, parent)
        info: dict[str, Any] = {
            "id": id_field(values, "id", parent),
            "modelId": id_field(values, "modelId", parent),
            "modelExecutionType": text_field(values, "modelExecutionType", parent),
            "keyValueConfig": dict_field(values, "keyValueConfig", parent),
        }
        for key in _OPTIONAL_STR:
            if key in values:
                info[key] = str_field(values, key, parent)
        for key in _OPTIONAL_PATH:
            if key in values:
                info[key] = path_field(values, key, parent)
        if values.get("newModelId") is not None:
            info["newModelId"] = id_field(values, "newModelId", parent)
        if "isPredictionExplanationsSupported" in values:
            info["isPredictionExplanationsSupported"] = bool_field(values, "isPredictionExplanationsSupported", parent)
        self._deployment_info = info

    def to_dict(self) -> dict[str, Any]:
        """Return the validated fields as plain data (paths as strings)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in self._deployment_info.items()}

    def to_yaml(self) -> str:
        """Return the validated fields as YAML."""
        return yaml.safe_dump(self.to_dict(), indent=4)

    def __str__(self) -> str:
        return self.to_yaml()

    def __repr__(self) -> str:
        return f"DeploymentInfo(id={self.id!r}, model_id={self.model_id!r})"

    @property
    def id(self) -> str:
        return str(self._deployment_info["id"])

    @property
    def name(self) -> str | None:
        value: str | None = self._deployment_info.get("name")
        return value

    @name.setter
    def name(self, value: str | None) -> None:
        self._deployment_info["name"] = value

    @property
    def description(self) -> str | None:
        value: str | None = self._deployment_info.get("description")
        return value

    @property
    def model_id(self) -> str:
        return str(self._deployment_info["modelId"])

    @property
    def model_artifact(self) -> Path | None:
        value: Path | None = self._deployment_info.get("modelArtifact")
        return value

    @property
    def model_format(self) -> str | None:
        value: str | None = self._deployment_info.get("modelFormat")
        return value

    @property
    def model_execution_type(self) -> str:
        return str(self._deployment_info["modelExecutionType"])

    @property
    def kv_config(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._deployment_info["keyValueConfig"])

    @property
    def key_value_config(self) -> dict[str, Any]:
        return self.kv_config

    @property
    def new_model_id(self) -> str | None:
        value: str | None = self._deployment_info.get("newModelId")
        return value

    @property
    def current_model_id(self) -> str:
        """Return the model the deployment should run: the new model during a replacement."""
        return self.new_model_id or self.model_id

    @property
    def feature_types_path(self) -> Path | None:
        value: Path | None = self._deployment_info.get("featureTypes")
        return value

    @property
    def model_package_details_path(self) -> Path | None:
        value: Path | None = self._deployment_info.get("modelPackageDetails")
        return value

    @property
    def settings_path(self) -> Path | None:
        value: Path | None = self._deployment_info.get("settings")
        return value

    @property
    def is_prediction_explanations_supported(self) -> bool | None:
        value: bool | None = self._deployment_info.get("isPredictionExplanationsSupported", False)
        return value

    @property
    def model_name(self) -> str | None:
        value: str | None = self._deployment_info.get("modelName", "")
        return value

    @property
    def model_description(self) -> str | None:
        value: str | None = self._deployment_info.get("modelDescription", "")
        return value

    @property
    def endpoint_id(self) -> str | None:
        return self._endpoint_info.id if self._endpoint_info else None

    @property
    def endpoint_name(self) -> str | None:
        return self._endpoint_info.name if self._endpoint_info else None
