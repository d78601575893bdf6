"""Drift baselines from training data: numeric quantile bins and top categories, with their proportions."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bosun_local.model_package import PackageSpec
from bosun_local.service.api_errors import invalid

NUMERIC_BINS = 10
TOP_CATEGORIES = 20

if TYPE_CHECKING:
    import pandas as pd


def numeric_bins(values: pd.Series) -> dict[str, Any]:
    """Return inner quantile edges (bin i holds edges[i-1] <= v < edges[i]) and each bin's share."""
    import numpy as np

    quantiles = np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]
    edges = np.unique(np.quantile(values.to_numpy(dtype=float), quantiles))
    counts = np.bincount(np.searchsorted(edges, values.to_numpy(dtype=float), side="right"),
                         minlength=len(edges) + 1)
    return {"type": "numeric", "edges": [float(e) for e in edges],
            "proportions": [float(c) / len(values) for c in counts]}


def _numeric_features(frame: pd.DataFrame, names: list[str], label: str) -> dict[str, dict[str, Any]]:
    """Return numeric_bins of each named column, computed on one float matrix (not a pandas call per column)."""
    import numpy as np
    import pandas as pd

    if not names:
        return {}
    block = frame[names]
    ready = set(block.select_dtypes(include="number").columns)  # parsed as numbers already: no conversion
    values = np.empty((len(block), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        column = block.iloc[:, j] if name not in ready else None
        if column is not None:  # text that may hold numbers: coerce, as a single column would be
            values[:, j] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    numeric_positions = [j for j, name in enumerate(names) if name in ready]
    if numeric_positions:
        values[:, numeric_positions] = block.iloc[:, numeric_positions].to_numpy(dtype=np.float64, na_value=np.nan)
    present = ~np.isnan(values)
    empty = np.flatnonzero(~present.any(axis=0))
    if len(empty):
        name = names[int(empty[0])]
        raise invalid(f"training data {label}: numeric feature {name!r} has no numeric values",
                      f"fix the column or declare {name} as categorical in model.yaml")
    quantiles = np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]
    whole: np.ndarray = np.asarray(present.all(axis=0))
    # One vectorized call for the columns without gaps (np.nanquantile would loop over every column in Python).
    cuts = np.full((len(quantiles), len(names)), np.nan)
    cuts[:, whole] = np.quantile(values[:, whole], quantiles, axis=0)
    out: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(names):
        column = values[:, j] if whole[j] else values[present[:, j], j]
        edges = np.unique(cuts[:, j] if whole[j] else np.quantile(column, quantiles))
        counts = np.bincount(np.searchsorted(edges, column, side="right"), minlength=len(edges) + 1)
        out[name] = {"type": "numeric", "edges": [float(e) for e in edges],
                     "proportions": [float(c) / len(column) for c in counts]}
    return out


def categorical_bins(values: pd.Series, categories: list[str] | None = None) -> dict[str, Any]:
    """Return the top categories (or the given ones) plus a last "other" bin, and each bin's share."""
    as_text = values.astype(str)
    counts = as_text.value_counts()
    if categories is None:
        categories = [str(c) for c in counts.index[:TOP_CATEGORIES]]
    shares = [float(counts.get(c, 0)) / len(as_text) for c in categories]
    shares.append(max(0.0, 1.0 - sum(shares)))
    return {"type": "categorical", "categories": categories, "proportions": shares}


def compute_baseline(spec: PackageSpec, csv_path: Path, label: str) -> dict[str, Any]:
    """Return the baseline of a package from its training CSV; 422 errors name the file and the column."""
    import pandas as pd  # imported on first use: it doubles the service's start time

    try:
        frame = pd.read_csv(csv_path, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise invalid(f"training data {label} is not a readable CSV: {str(exc).splitlines()[0]}",
                      "give a comma-separated file with a header row") from exc
    missing = [name for name in spec.feature_names if name not in frame.columns]
    if missing:
        raise invalid(f"training data {label} lacks feature column(s) named in model.yaml: {', '.join(missing)}",
                      "add the columns to the CSV or correct the feature names in model.yaml")
    if frame.empty:
        raise invalid(f"training data {label} has no rows", "give the rows the model was trained on")
    numeric = _numeric_features(frame, [f.name for f in spec.features if f.type == "numeric"], label)
    features: dict[str, Any] = {}
    for feature in spec.features:
        if feature.type == "numeric":
            features[feature.name] = numeric[feature.name]
        elif feature.type == "categorical":
            column = frame[feature.name].dropna()
            if not column.empty:
                features[feature.name] = categorical_bins(column)
    # The model's own predictions replace this once its sandboxed check has scored the rows (package_checks.py):
    # the service never loads package code (DESIGN: trust).
    prediction = None
    if spec.target_name in frame.columns:
        target = frame[spec.target_name].dropna()
        if spec.target_type == "regression":
            numbers = pd.to_numeric(target, errors="coerce").dropna()
            prediction = numeric_bins(numbers) if not numbers.empty else None
        elif not target.empty:
            prediction = categorical_bins(target, list(spec.class_names))
    return {"features": features, "prediction": prediction, "rows": int(len(frame))}


def model_prediction_bins(spec: PackageSpec, predictions: list[Any]) -> dict[str, Any] | None:
    """Bin what the package's own model predicted for its training rows (scored in the sandbox, validated here).

    Predictions are what deployments report, and a model's predictions are narrower than the target it was
    trained on: binning the target instead flags a healthy regression model as drifting.
    """
    import pandas as pd

    if not predictions:
        return None
    series = pd.Series(predictions)
    if spec.target_type == "regression":
        bins = numeric_bins(series.astype(float))
    else:
        bins = categorical_bins(series.astype(str), list(spec.class_names))
    return {**bins, "source": "model"}
