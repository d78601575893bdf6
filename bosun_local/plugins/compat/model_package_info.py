"""ModelPackageInfo: the model package details file (`deploymentInfo.modelPackageDetails`) as plugins read it."""
from __future__ import annotations

from typing import Any

from bosun_local.plugins.framework.info_fields import dict_field, id_field, require_mapping


class ModelPackageInfo:
    """A model package's id and target: type (lower case) and class names."""

    def __init__(self, model_package_details: dict[str, Any]) -> None:
        parent = "modelPackageDetails"
        values = require_mapping(model_package_details, parent)
        self._model_package_info: dict[str, Any] = {"id": id_field(values, "id", parent),
                                    "target": dict_field(values, "target", parent)}

    @property
    def id(self) -> str:
        value: str = self._model_package_info["id"]
        return value

    @property
    def target_type(self) -> str:
        return str(self._model_package_info["target"].get("type", "")).lower()

    @property
    def class_names(self) -> list[str]:
        return self._model_package_info["target"].get("classNames", [])
