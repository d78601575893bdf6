"""Client-side aggregation for report_aggregated_predictions_data: the PREDICTION_STATS record's data.

Per feature (by declared type) and per prediction column: count, missing count, min, max, sum, sum of squares
and a centroid histogram for numbers; counts of the most frequent values for categories and text tokens;
optionally all of it again per segment value. Field names and order are datarobot-mlops' spool format.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bosun_local.mlops import histogram
from bosun_local.mlops.exceptions import DRApiException

NUMERIC, CATEGORY, BOOLEAN, TEXT_WORDS, TEXT_CHARS = "numeric", "category", "boolean", "text-words", "text-chars"
DATE, PERCENTAGE, LENGTH, CURRENCY = "date", "percentage", "length", "currency"
FEATURE_TYPES = (DATE, PERCENTAGE, LENGTH, CURRENCY, NUMERIC, CATEGORY, TEXT_CHARS, TEXT_WORDS)
# Aggregated as numbers after conversion (boolean is accepted though datarobot-mlops does not list it).
_NUMERIC_LIKE = (NUMERIC, DATE, PERCENTAGE, LENGTH, CURRENCY, BOOLEAN)
# Defaults of the stats aggregator when the MLOps settings leave them unset.
AGGREGATOR_BIN_COUNT = 100
AGGREGATOR_CATEGORY_COUNT = 10000
_TRUE_FALSE = {"true": 1.0, "false": 0.0}
_DIGIT, _WORD, _CHAR = re.compile(r"\d"), re.compile(r"\b\w+\b"), re.compile(r"\w")


@dataclass(frozen=True)
class FeatureDescriptor:
    """One feature to aggregate: name, type (numeric, category, text-words, ...) and a format for dates."""

    name: str
    feature_type: str
    format: str | None = ""


def validate_feature_types(feature_types: Any) -> None:
    """Raise DRApiException unless feature_types is a non-empty list of {name, feature_type} dicts."""
    if not isinstance(feature_types, list):
        raise DRApiException("feature_types needs to be a list.")
    if not feature_types:
        raise DRApiException("feature_types is empty.")
    for item in feature_types:
        if isinstance(item, FeatureDescriptor):
            continue
        if not isinstance(item, dict):
            raise DRApiException("feature_types items should be a FeatureDescriptor or dict.")
        if "name" not in item:
            raise DRApiException("feature_types does not contains field[name].")
        if "feature_type" not in item:
            raise DRApiException("feature_types does not contains field[feature_type].")


def to_descriptors(feature_types: list[Any], sanitize: Any) -> list[FeatureDescriptor]:
    """Return descriptors with names sanitized like the reported columns (sanitize: name list -> mapping)."""
    names = [f.name if isinstance(f, FeatureDescriptor) else f.get("name") for f in feature_types]
    mapping = sanitize(names)
    out = []
    for item, name in zip(feature_types, names, strict=True):
        kind, fmt = (item.feature_type, item.format) if isinstance(item, FeatureDescriptor) else (
            item.get("feature_type"), item.get("format"))
        out.append(FeatureDescriptor(mapping.get(name, name), kind, fmt))
    return out


def load_feature_types(text: str, where: str) -> list[Any]:
    """Return feature types parsed from JSON text; raise DRApiException naming where it came from."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise DRApiException(f"{where} is not JSON: {exc}") from exc
    validate_feature_types(value)
    return value


def _floatify(value: Any) -> float:
    try:
        return _TRUE_FALSE[value.lower()]
    except (KeyError, AttributeError):
        pass
    try:
        return float(value)
    except (ValueError, TypeError):
        return float("nan")


def _to_numbers(series: pd.Series) -> pd.Series:
    if series.dtype.kind not in "biufc":
        series = series.map(_floatify)
    return series if series.dtype == "float64" else series.astype(np.float64)


def _convert(series: pd.Series, kind: str, fmt: str | None) -> pd.Series:
    """Return a numeric-like feature as numbers: dates as epoch seconds, '12%' as 12, '$3' as 3."""
    if kind == DATE:
        pattern = _strftime(fmt or "")
        moments = pd.to_datetime(series, format=pattern or None, errors="coerce", utc=True)
        if "%M" in pattern:  # with a time of day: seconds since the epoch
            return (moments - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
        return moments.map(lambda t: float(t.toordinal()) if pd.notna(t) else np.nan)  # dates: ordinal days
    if kind in (PERCENTAGE, CURRENCY, LENGTH) and series.dtype.kind not in "biufc":
        return series.astype(str).str.replace(r"[^0-9eE+\-.]", "", regex=True).map(_floatify).where(series.notna())
    return series


def _strftime(java_format: str) -> str:
    """Return a strftime pattern; Java-style formats (MM-dd-yy, yyyy-MM-dd HH:mm) are translated."""
    if "%" in java_format:
        return java_format
    out = java_format
    for java, py in (("yyyy", "%Y"), ("yy", "%y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"),
                     ("ss", "%S")):
        out = out.replace(java, py)
    return out


def _camel_numeric(count: int, missing: int, values: pd.Series, bins: int, decisions: int | None) -> dict[str, Any]:
    buckets = histogram.from_values(values, max_length=bins)
    return {"count": int(count), "missingCount": int(missing), "min": _num(values.min()), "max": _num(values.max()),
            "sum": _num(values.sum()), "sumOfSquares": _num(values.pow(2).sum()),
            "histogram": {"maxLength": bins, "bucketList": [{"centroid": c, "count": n} for c, n in buckets]},
            "decisionCount": decisions}


def _num(value: Any) -> Any:
    """Return numpy scalars as Python numbers (NaN stays NaN, as the reference writes it)."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def numeric_stats(series: pd.Series, bins: int, decisions: int | None = 0) -> dict[str, Any]:
    """Return the numeric aggregate of one column."""
    count = int(series.count())
    missing = len(series) - count
    return _camel_numeric(count, missing, _to_numbers(series.dropna()), bins, decisions)


def category_stats(series: pd.Series, top: int) -> dict[str, Any]:
    """Return the categorical aggregate of one column: the `top` most frequent values and their counts."""
    count = int(series.count())
    values = series[series.notnull()].astype(str)
    counts = {str(k): int(v) for k, v in values.value_counts(ascending=False).iloc[:top].to_dict().items()}
    return {"count": count, "missingCount": len(series) - count, "textWordCount": None, "categoryCounts": counts}


def text_stats(series: pd.Series, kind: str, top: int) -> dict[str, Any]:
    """Return the aggregate of a text column: in how many rows each word (or character) occurs."""
    count = int(series.count())
    docs = series.fillna("").astype(str).str.replace(_DIGIT, "", regex=True).str.lower()
    tokens = docs.str.findall(_WORD if kind == TEXT_WORDS else _CHAR)
    counter: Counter[str] = Counter()
    for row in tokens:
        counter.update(set(row))
    return {"count": count, "missingCount": len(series) - count, "textWordCount": sum(counter.values()),
            "categoryCounts": dict(counter.most_common(top))}


def prediction_stats(predictions: pd.DataFrame, bins: int) -> list[dict[str, Any]]:
    """Return one numeric aggregate per prediction column; decisionCount = rows where it is the largest."""
    decisions = predictions.idxmax(axis=1)
    return [numeric_stats(predictions[col], bins, int(len(np.where(decisions == col)[0]))) for col in predictions]


@dataclass
class Limits:
    """How much detail the aggregates keep."""

    bins: int = AGGREGATOR_BIN_COUNT
    categories: int = AGGREGATOR_CATEGORY_COUNT
    segment_values: int = AGGREGATOR_CATEGORY_COUNT


def _features(features: pd.DataFrame, types: list[FeatureDescriptor], limits: Limits) -> tuple[dict, dict]:
    missing = [f.name for f in types if f.name not in features]
    if missing:
        raise DRApiException(f"Feature types '{', '.join(missing)}' not present in provided dataset")
    numeric, categorical = {}, {}
    for f in types:
        column = features.loc[:, f.name]
        if f.feature_type in _NUMERIC_LIKE:
            numeric[f.name] = numeric_stats(_convert(column, f.feature_type, f.format), limits.bins)
        elif f.feature_type == CATEGORY:
            categorical[f.name] = category_stats(column, limits.categories)
        elif f.feature_type in (TEXT_WORDS, TEXT_CHARS):
            categorical[f.name] = text_stats(column, f.feature_type, limits.categories)
    return numeric, categorical


def _predictions_map(predictions: pd.DataFrame | None, class_names: list[str] | None, limits: Limits) -> dict:
    if predictions is None:
        return {}
    names = class_names or ["0"]
    return dict(zip(names, prediction_stats(predictions, limits.bins), strict=False))


def aggregate(features: pd.DataFrame | None, types: list[FeatureDescriptor] | None, predictions: pd.DataFrame | None,
              class_names: list[str] | None, segments: list[str] | None, limits: Limits) -> dict[str, Any]:
    """Return numericAggregateMap, categoricalAggregateMap, segmentAttributesAggregatedStats, predictionAggregateMap."""
    if features is not None and predictions is not None and features.shape[0] != predictions.shape[0]:
        raise DRApiException("Different numbers of rows for features and predictions specified")
    if predictions is not None and predictions.isna().values.any():
        raise DRApiException("Missing values are not permitted in predictions")
    numeric: dict = {}
    categorical: dict = {}
    if features is not None and types is not None:
        numeric, categorical = _features(features, types, limits)
    segment_map: dict[str, dict[str, Any]] = {}
    for attribute in segments or []:
        if features is None or attribute not in features:
            raise DRApiException(f"segment attribute {attribute!r} is not a column of features_df")
        column = features[attribute]
        top = Counter(category_stats(column, AGGREGATOR_CATEGORY_COUNT)["categoryCounts"])
        for value, _ in top.most_common(limits.segment_values):
            rows = column == value
            sub_num, sub_cat = _features(features[rows], types or [], limits)
            segment_map.setdefault(attribute, {})[value] = {
                "numericAggregateMap": sub_num, "categoricalAggregateMap": sub_cat,
                "predictionAggregateMap": _predictions_map(
                    predictions[rows] if predictions is not None else None, class_names, limits)}
    return {"numericAggregateMap": numeric, "categoricalAggregateMap": categorical,
            "segmentAttributesAggregatedStats": {"segmentStatsMap": segment_map},
            "predictionAggregateMap": _predictions_map(predictions, class_names, limits)}
