"""Build real model packages for the PPS tests: diabetes regression, a binary classifier, custom models."""
from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pandas as pd
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

DIABETES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
ROW = {"age": 30, "sex": 1, "bmi": 23, "bp": 100, "s1": 157, "s2": 70, "s3": 40, "s4": 4, "s5": 3, "s6": 88}
FORM = "&".join(f"{k}={v}" for k, v in ROW.items())


def diabetes_frame() -> tuple[pd.DataFrame, pd.Series]:
    """Return the unscaled diabetes features and target."""
    data = load_diabetes(as_frame=True, scaled=False)
    return data.data, data.target


def write_spec(directory: Path, **spec: object) -> Path:
    """Write model.yaml into a (new) package dir."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return directory


def regression_package(directory: Path, shift: float = 0.0) -> Path:
    """Diabetes LinearRegression fitted on a DataFrame (so it carries feature names); shift moves predictions."""
    x, y = diabetes_frame()
    model = LinearRegression().fit(x, y + shift)
    write_spec(directory, name="diabetes", targetName="y", targetType="regression",
               features=[{"name": n, "type": "numeric"} for n in DIABETES])
    (directory / "model.pkl").write_bytes(pickle.dumps(model))
    return directory


def regression_prediction(row: dict[str, float], shift: float = 0.0) -> float:
    """Return what the regression package predicts for one row, computed in-process."""
    x, y = diabetes_frame()
    model = LinearRegression().fit(x, y + shift)
    return float(model.predict(pd.DataFrame([row], columns=DIABETES))[0])


def binary_package(directory: Path) -> Path:
    """A pipeline with a categorical column: is the diabetes progression above the median? (classes no/yes)."""
    x, y = diabetes_frame()
    x = x.assign(sex=x["sex"].map({1.0: "f", 2.0: "m"}))
    target = (y > y.median()).map({False: "no", True: "yes"})
    pipe = Pipeline([
        ("prep", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["sex"])],
                                   remainder=StandardScaler())),
        ("clf", LogisticRegression(max_iter=1000)),
    ]).fit(x, target)
    features = [{"name": n, "type": "categorical" if n == "sex" else "numeric"} for n in DIABETES]
    write_spec(directory, name="diabetes-high", targetName="high", targetType="binary", classNames=["no", "yes"],
               features=features)
    (directory / "model.pkl").write_bytes(pickle.dumps(pipe))
    return directory


CUSTOM_PY = '''
import time
from pathlib import Path

import pandas as pd


def load_model(code_dir):
    return {"offset": float(Path(code_dir, "offset.txt").read_text())}


def score(data, model):
    delay = float(data["delay"].iloc[0]) if len(data) else 0.0
    if delay > 0:
        time.sleep(delay)
    return pd.DataFrame({"Predictions": data["x"] * 2 + model["offset"]})
'''


def custom_package(directory: Path, offset: float = 1.0, source: str = CUSTOM_PY) -> Path:
    """A custom.py regression model: prediction = 2x + offset, sleeping `delay` seconds (to hold requests)."""
    write_spec(directory, name="doubler", targetName="y", targetType="regression",
               features=[{"name": "x", "type": "numeric"}, {"name": "delay", "type": "numeric"}])
    (directory / "custom.py").write_text(textwrap.dedent(source))
    (directory / "offset.txt").write_text(str(offset))
    return directory
