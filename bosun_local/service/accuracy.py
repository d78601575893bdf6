"""Accuracy of a deployment from its predictions joined to delayed actuals: metrics per target type and a status."""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from bosun_local.service.storage.base import Row

REGRESSION, BINARY, MULTICLASS = "regression", "binary", "multiclass"
METRICS = {REGRESSION: ("rmse", "mae", "r2"), BINARY: ("accuracy", "auc", "logLoss", "f1"),
           MULTICLASS: ("accuracy", "logLoss")}
HIGHER_IS_BETTER = frozenset({"r2", "accuracy", "auc", "f1"})
DEFAULT_METRIC = {REGRESSION: "r2", BINARY: "logLoss", MULTICLASS: "accuracy"}
# (warn, fail) per metric when a deployment sets none: scale-free metrics only (RMSE/MAE need the user's scale).
DEFAULT_LIMITS: dict[str, tuple[float, float]] = {
    "r2": (0.5, 0.2), "accuracy": (0.7, 0.5), "auc": (0.7, 0.6), "f1": (0.6, 0.4), "logLoss": (0.6, 0.8)}
# sklearn's log_loss clips probabilities the same way, so both give the same figure for hard 0/1 predictions.
EPSILON = float(np.finfo(np.float64).eps)


def target_type_of(package: Row | None, rows: list[Row]) -> str | None:
    """Return the target type: the package's, else guessed from what was predicted."""
    if package and package.get("targetType") in METRICS:
        return str(package["targetType"])
    for row in rows:
        if row.get("names"):
            return BINARY if len(_names(row)) == 2 else MULTICLASS
        if row.get("label") is not None:
            return BINARY
        if row.get("prediction") is not None:
            return REGRESSION
    return None


def _names(row: Row) -> list[str]:
    return json.loads(row["names"])


def _rounded(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def regression_metrics(rows: list[Row]) -> tuple[int, dict[str, float | None]]:
    """Return (rows used, RMSE, MAE and R²) of numeric predictions against numeric actuals."""
    pairs = [(r["prediction"], r["actual_num"]) for r in rows
             if r["prediction"] is not None and r["actual_num"] is not None]
    if not pairs:
        return 0, dict.fromkeys(METRICS[REGRESSION])
    predicted, actual = np.asarray(pairs, dtype=np.float64).T
    residual = actual - predicted
    total = float(np.sum((actual - actual.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual ** 2)) / total if total > 0 else None
    return len(pairs), {"rmse": _rounded(math.sqrt(float(np.mean(residual ** 2)))),
                        "mae": _rounded(float(np.mean(np.abs(residual)))), "r2": _rounded(r2)}


def regression_from_sums(sums: Row) -> tuple[int, dict[str, float | None]]:
    """Return (rows used, RMSE, MAE and R²) from the sums of storage.regression_sums."""
    n = int(sums["n"])
    if n == 0:
        return 0, dict.fromkeys(METRICS[REGRESSION])
    total = float(sums["actualSquares"]) - float(sums["actualSum"]) ** 2 / n
    # Below rounding noise the actuals are constant and R² is undefined, as in the row-wise version.
    r2 = 1.0 - float(sums["squares"]) / total if total > 1e-12 * max(float(sums["actualSquares"]), 1.0) else None
    return n, {"rmse": _rounded(math.sqrt(float(sums["squares"]) / n)), "mae": _rounded(float(sums["absolute"]) / n),
               "r2": _rounded(r2)}


def auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Return the ROC AUC (ties counted half) by the rank-sum (Mann-Whitney) formula; None with one class only."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # Tied scores share the mean of the ranks they span.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    mean_rank = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(mean_rank, counts)
    return (float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def _known(rows: list[Row]) -> list[tuple[Row, list[str]]]:
    """Return the rows whose actual is one of their prediction's classes, with those classes."""
    known = []
    for row in rows:
        names = _names(row) if row.get("names") else None
        if names is None or row["actual"] in names:
            known.append((row, names or []))
    return known


def binary_metrics(rows: list[Row]) -> tuple[int, dict[str, float | None]]:
    """Return (rows used, accuracy, AUC, LogLoss and F1) with the last class as the positive one."""
    known = [(r, n) for r, n in _known(rows) if r["label"] is not None]
    if not known:
        return 0, dict.fromkeys(METRICS[BINARY])
    positive_name = known[0][1][-1] if known[0][1] else None
    correct = np.array([r["label"] == r["actual"] for r, _ in known])
    metrics: dict[str, float | None] = {"accuracy": float(correct.mean()), "auc": None, "logLoss": None}
    if positive_name is not None:
        actual_pos = np.array([r["actual"] == positive_name for r, _ in known])
        predicted_pos = np.array([r["label"] == positive_name for r, _ in known])
        tp = int(np.sum(actual_pos & predicted_pos))
        wrong = int(np.sum(actual_pos != predicted_pos))
        metrics["f1"] = tp / (tp + wrong / 2) if tp + wrong else None
        scored = [(r["prediction"], r["actual"] == positive_name) for r, _ in known if r["prediction"] is not None]
        if scored:
            scores = np.array([s for s, _ in scored], dtype=np.float64)
            truth = np.array([t for _, t in scored])
            metrics["auc"] = _rounded(auc(scores, truth))
            p = np.clip(np.where(truth, scores, 1.0 - scores), EPSILON, 1 - EPSILON)
            metrics["logLoss"] = _rounded(float(-np.mean(np.log(p))))
    else:
        metrics["f1"] = None
    return len(known), metrics


def multiclass_metrics(rows: list[Row]) -> tuple[int, dict[str, float | None]]:
    """Return (rows used, accuracy and LogLoss) of multiclass predictions."""
    known = [(r, n) for r, n in _known(rows) if r["label"] is not None]
    if not known:
        return 0, dict.fromkeys(METRICS[MULTICLASS])
    accuracy = float(np.mean([r["label"] == r["actual"] for r, _ in known]))
    losses = []
    for row, names in known:
        if row["probs"] is not None and names:
            probs = np.frombuffer(row["probs"], dtype=np.float64)
            # Like sklearn: each row renormalised to sum to 1, then clipped.
            p = probs[names.index(row["actual"])] / max(float(probs.sum()), EPSILON)
            losses.append(-math.log(min(max(p, EPSILON), 1 - EPSILON)))
    return len(known), {"accuracy": accuracy, "logLoss": _rounded(float(np.mean(losses))) if losses else None}


def accuracy_metrics(target_type: str | None, rows: list[Row]) -> tuple[int, dict[str, float | None]]:
    """Return (rows used, metrics) of matched rows for a target type."""
    if target_type == REGRESSION:
        return regression_metrics(rows)
    if target_type == BINARY:
        return binary_metrics(rows)
    if target_type == MULTICLASS:
        return multiclass_metrics(rows)
    return 0, {}


def accuracy_status(metric: str | None, value: float | None, limits: dict[str, Any], rows: int) -> str:
    """Return passing/warning/failing of a metric value against (deployment or default) thresholds."""
    if metric is None or value is None or rows < float(limits.get("accuracyMinRows", 10)):
        return "unknown"
    default_warn, default_fail = DEFAULT_LIMITS.get(metric, (None, None))
    warn, fail = limits.get("accuracyWarn", default_warn), limits.get("accuracyFail", default_fail)
    if warn is None or fail is None:
        return "unknown"
    if metric in HIGHER_IS_BETTER:
        return "failing" if value <= fail else "warning" if value <= warn else "passing"
    return "failing" if value >= fail else "warning" if value >= warn else "passing"
