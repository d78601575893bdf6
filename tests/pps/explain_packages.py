"""Model packages for the explanation tests: linear and tree models on the diabetes data, and one we cannot explain."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from tests.pps.packages import DIABETES, diabetes_frame, write_spec


def _numeric_spec(directory: Path, name: str, target_type: str, **extra: Any) -> None:
    write_spec(directory, name=name, targetName="y" if target_type == "regression" else "high",
               targetType=target_type, features=[{"name": n, "type": "numeric"} for n in DIABETES], **extra)


def _high(y: pd.Series) -> pd.Series:
    return (y > y.median()).map({False: "no", True: "yes"})


def _band(y: pd.Series) -> pd.Series:
    """Return a three-class target: the progression's tercile."""
    return pd.qcut(y, 3, labels=["low", "mid", "high"]).astype(str)


BANDS = ["high", "low", "mid"]  # predict_proba order (sorted)


def fitted(kind: str) -> Any:
    """Return the estimator a package kind holds, fitted the same way each time (for reference computations)."""
    x, y = diabetes_frame()
    if kind == "linear":
        return LinearRegression().fit(x.to_numpy(), y)
    if kind == "logistic":
        return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))]).fit(
            x.to_numpy(), _high(y))
    if kind == "forest":
        return RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0).fit(x.to_numpy(), y)
    if kind == "boosting":
        return GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0).fit(x.to_numpy(), _high(y))
    if kind == "multilogistic":
        return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=2000))]).fit(
            x.to_numpy(), _band(y))
    if kind == "multiforest":
        return RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0).fit(x.to_numpy(), _band(y))
    if kind == "knn":
        return KNeighborsRegressor().fit(x.to_numpy(), y)
    raise ValueError(kind)


def explain_package(directory: Path, kind: str, training: bool = True) -> Path:
    """Write a package of one kind; with training.csv (the linear explanations' means) unless told otherwise."""
    multi = kind.startswith("multi")
    binary = kind in ("logistic", "boosting")
    if multi:
        write_spec(directory, name=f"diabetes-{kind}", targetName="band", targetType="multiclass", classNames=BANDS,
                   features=[{"name": n, "type": "numeric"} for n in DIABETES])
    else:
        _numeric_spec(directory, f"diabetes-{kind}", "binary" if binary else "regression",
                      **({"classNames": ["no", "yes"]} if binary else {}))
    (directory / "model.pkl").write_bytes(pickle.dumps(fitted(kind)))
    if training:
        x, y = diabetes_frame()
        target = {"band": _band(y)} if multi else {"high": _high(y)} if binary else {"y": y}
        x.assign(**target).to_csv(directory / "training.csv", index=False)
    return directory


def linear_reference(kind: str, rows: pd.DataFrame) -> np.ndarray:
    """Return coef * (x - mean) per row and feature, computed here from the fitted model and the data."""
    x, _ = diabetes_frame()
    model = fitted(kind)
    values, mean = rows[DIABETES].to_numpy(dtype=float), x[DIABETES].mean().to_numpy()
    if kind == "linear":
        return model.coef_ * (values - mean)
    scale, clf = model.named_steps["scale"], model.named_steps["clf"]
    scaled = scale.transform(values) - scale.transform(mean.reshape(1, -1))
    if kind == "multilogistic":  # the predicted class's coefficients
        return clf.coef_[model.predict_proba(values).argmax(axis=1)] * scaled
    return clf.coef_[0] * scaled


def tree_reference(kind: str, rows: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Return TreeSHAP values (the positive class's for a classifier) and the base value, from shap here."""
    import shap

    explainer = shap.TreeExplainer(fitted(kind))
    values = np.asarray(explainer.shap_values(rows[DIABETES].to_numpy(dtype=float)))
    base = np.atleast_1d(explainer.expected_value)
    if kind == "multiforest":  # the predicted class's values
        predicted = fitted(kind).predict_proba(rows[DIABETES].to_numpy(dtype=float)).argmax(axis=1)
        return values[np.arange(len(rows)), :, predicted], float("nan")
    if values.ndim == 3:
        return values[:, :, 1], float(base[1])
    return values, float(base[-1])
