"""DeploymentUtils: read a deployment's feature types and settings files, write a DRUM class labels file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# DataRobot's feature types (the EDA names) -> the monitoring library's names for them.
FEATURE_TYPES = {"Categorical": "category", "Binary": "boolean", "Numeric": "numeric", "Text": "text-words",
                 "Date": "date"}


def convert_feature_format(feature: dict[str, Any]) -> dict[str, Any]:
    """Return one feature of the public API's feature list in the monitoring library's form."""
    kind = feature.get("featureType")
    return {"name": feature.get("name"), "feature_type": FEATURE_TYPES.get(str(kind), kind),
            "format": feature.get("dateFormat")}


class DeploymentUtils:
    """Helpers plugins use on the files the agent passes in deploymentInfo."""

    @classmethod
    def _read_json_file(cls, json_file_path: Path) -> Any:
        path = Path(json_file_path)
        if not path.is_file():
            raise ValueError(f"provided file path doesnt exist: {path}")
        return json.loads(path.read_text())

    @classmethod
    def load_feature_types(cls, feature_types_file: Path) -> list[dict[str, Any]]:
        """Return the features of a feature types file (the public API's `data` list) in the monitoring form."""
        return [convert_feature_format(f) for f in cls._read_json_file(feature_types_file)["data"]]

    @classmethod
    def load_deployment_settings(cls, deployment_settings_file: Path) -> Any:
        """Return a deployment's settings file."""
        return cls._read_json_file(deployment_settings_file)

    @classmethod
    def create_class_labels_file(cls, dest_dir: Path, class_labels: list[str]) -> Path:
        """Write classLabels.txt (one label a line, as DRUM reads it for multiclass models) and return it."""
        target = Path(dest_dir) / "classLabels.txt"
        target.write_text("\n".join(class_labels))
        return target
