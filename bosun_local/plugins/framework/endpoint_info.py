"""EndpointInfo: the `endpointInfo` section passed to endpoint_update / endpoint_status.

Same fields, defaults and types as DataRobot's `bosun.plugin.endpoint_info.EndpointInfo`: name, endpointType and
predictionEnvironmentId are required, tags and trafficSplit default to {}, trafficUpdatedAt becomes a datetime.
"""
from __future__ import annotations

import datetime
from typing import Any

import yaml

from bosun_local.plugins.framework.info_fields import (
    ActionConfigError,
    datetime_field,
    require_mapping,
    str_field,
    text_field,
)


def _optional_dict(values: dict[str, Any], key: str, parent: str) -> dict[str, Any] | None:
    value = values.get(key, {})
    if value is None or isinstance(value, dict):
        return value
    raise ActionConfigError(f"{parent}.{key}", f"must be a mapping, got {type(value).__name__} {value!r}")


class EndpointInfo:
    """An endpoint as the agent describes it to a plugin; unknown keys are ignored."""

    def __init__(self, endpoint_info: dict[str, Any]) -> None:
        parent = "endpointInfo"
        values = require_mapping(endpoint_info, parent)
        name = str_field(values, "name", parent)
        if name is None:
            raise ActionConfigError(f"{parent}.name", "is missing", fix="add `name: <endpoint name>`")
        info: dict[str, Any] = {
            "name": name,
            "endpointType": text_field(values, "endpointType", parent),
            "predictionEnvironmentId": text_field(values, "predictionEnvironmentId", parent),
            "tags": _optional_dict(values, "tags", parent),
            "trafficSplit": _optional_dict(values, "trafficSplit", parent),
        }
        for key in ("description", "authType", "id"):
            if key in values:
                info[key] = str_field(values, key, parent)
        if "trafficUpdatedAt" in values:
            info["trafficUpdatedAt"] = datetime_field(values, "trafficUpdatedAt", parent, iso_only=False)
        self._endpoint_info = info

    def to_yaml(self) -> str:
        """Return the validated fields as YAML."""
        return yaml.safe_dump(self._endpoint_info, indent=4)

    def to_dict(self) -> dict[str, Any]:
        """Return the validated fields."""
        return dict(self._endpoint_info)

    def get(self, key: str, default: Any = None) -> Any:
        """Return one validated field by its YAML key."""
        return self._endpoint_info.get(key, default)

    def __str__(self) -> str:
        return self.to_yaml()

    @property
    def id(self) -> str | None:
        value: str | None = self._endpoint_info.get("id")
        return value

    @property
    def name(self) -> str:
        value: str = self._endpoint_info["name"]
        return value

    @property
    def description(self) -> str | None:
        value: str | None = self._endpoint_info.get("description")
        return value

    @property
    def type(self) -> str:
        value: str = self._endpoint_info["endpointType"]
        return value

    @property
    def prediction_environment_id(self) -> str:
        value: str = self._endpoint_info["predictionEnvironmentId"]
        return value

    @property
    def auth_type(self) -> str | None:
        value: str | None = self._endpoint_info.get("authType")
        return value

    @property
    def tags(self) -> dict[str, Any] | None:
        value: dict[str, Any] | None = self._endpoint_info.get("tags")
        return value

    @property
    def traffic_split(self) -> dict[str, Any] | None:
        value: dict[str, Any] | None = self._endpoint_info.get("trafficSplit")
        return value

    @property
    def traffic_updated_at(self) -> datetime.datetime | None:
        value: datetime.datetime | None = self._endpoint_info.get("trafficUpdatedAt")
        return value
