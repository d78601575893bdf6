"""PEInfo: the validated `peInfo` section of an action config (the prediction environment).

Same constructor, properties and types as DataRobot's `bosun.plugin.pe_info.PEInfo` (createdOn becomes a
datetime, keyValueConfig and deployments default to empty). One documented difference: `deployments` may list
bare ids as well as deployment mappings (bosun-local's agent sends ids); `deployments` returns the mappings as
DeploymentInfo and `deployment_ids` every id, where DataRobot's PEInfo raises on a bare id.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml

from bosun_local.plugins.framework.deployment_info import DeploymentInfo
from bosun_local.plugins.framework.info_fields import (
    ActionConfigError,
    datetime_field,
    dict_field,
    id_field,
    require_mapping,
    str_field,
)


class PEInfo:
    """A prediction environment and the deployments in it (given as ids or as deployment mappings)."""

    def __init__(self, pe_info: dict[str, Any]) -> None:
        parent = "peInfo"
        values = require_mapping(pe_info, parent)
        info: dict[str, Any] = {"id": id_field(values, "id", parent)}
        for key in ("name", "description", "createdBy"):
            if key in values:
                info[key] = str_field(values, key, parent)
        if "createdOn" in values:
            info["createdOn"] = datetime_field(values, "createdOn", parent)
        info["keyValueConfig"] = dict_field(values, "keyValueConfig", parent)
        raw = values.get("deployments") or []
        if not isinstance(raw, list):
            raise ActionConfigError(f"{parent}.deployments", f"must be a list, got {type(raw).__name__}",
                                    fix="list deployment ids, or deployment mappings")
        ids: list[str] = []
        infos: list[DeploymentInfo] = []
        for index, entry in enumerate(raw):
            where = f"{parent}.deployments[{index}]"
            if isinstance(entry, dict):
                info_obj = DeploymentInfo._from_section(entry, where)
                infos.append(info_obj)
                ids.append(info_obj.id)
            else:
                ids.append(id_field({"id": entry}, "id", where) or "")
        info["deployments"] = raw
        self._pe_info = info
        self._deployment_ids = ids
        self._deployment_infos = infos

    def to_dict(self) -> dict[str, Any]:
        """Return the validated fields as plain data."""
        return dict(self._pe_info)

    def to_yaml(self) -> str:
        """Return the validated fields as YAML."""
        return yaml.safe_dump(self.to_dict(), indent=4)

    def __str__(self) -> str:
        return self.to_yaml()

    def __repr__(self) -> str:
        return f"PEInfo(id={self.id!r}, deployments={self._deployment_ids!r})"

    @property
    def id(self) -> str:
        value: str = self._pe_info["id"]
        return value

    @property
    def name(self) -> str | None:
        value: str | None = self._pe_info.get("name")
        return value

    @property
    def description(self) -> str | None:
        value: str | None = self._pe_info.get("description")
        return value

    @property
    def deployments(self) -> list[DeploymentInfo]:
        """Return the deployments given as full mappings (ids alone are in `deployment_ids`)."""
        return list(self._deployment_infos)

    @property
    def deployment_ids(self) -> list[str]:
        """Return the id of every deployment in the environment, however it was given."""
        return list(self._deployment_ids)

    @property
    def created_on(self) -> datetime | None:
        value: datetime | None = self._pe_info.get("createdOn")
        return value

    @property
    def created_by(self) -> str | None:
        value: str | None = self._pe_info.get("createdBy")
        return value

    @property
    def kv_config(self) -> dict[str, Any]:
        value: dict[str, Any] = self._pe_info["keyValueConfig"]
        return value
