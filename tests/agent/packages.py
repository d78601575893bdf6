"""Build the diabetes model packages the agent tests deploy (trained in the test, never checked in)."""
from __future__ import annotations

import pickle
from pathlib import Path

import yaml

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
ROW = {"age": 30, "sex": 1, "bmi": 23, "bp": 100, "s1": 157, "s2": 70, "s3": 40, "s4": 4, "s5": 3, "s6": 88}


def diabetes_package(directory: Path, alpha: float | None = None) -> Path:
    """Write a package: LinearRegression (or Ridge with alpha, a different model) on load_diabetes(scaled=False)."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression, Ridge

    data = load_diabetes(scaled=False, as_frame=True)
    model = LinearRegression() if alpha is None else Ridge(alpha=alpha)
    model.fit(data.data[FEATURES], data.target)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.pkl").write_bytes(pickle.dumps(model))
    spec = {"name": "diabetes", "targetName": "y", "targetType": "regression",
            "features": [{"name": f, "type": "numeric"} for f in FEATURES]}
    (directory / "model.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return directory


def broken_package(directory: Path) -> Path:
    """Write a package whose model.yaml is valid but whose pickle is not: the PPS fails at start."""
    diabetes_package(directory)
    (directory / "model.pkl").write_bytes(b"this is not a pickle")
    return directory
