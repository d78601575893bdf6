"""Drift of predictions and features against the package baseline: PSI, Jensen–Shannon and Hellinger distances."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from bosun_local.service.figures import add_counts
from bosun_local.service.storage.base import Row

PSI_FLOOR = 1e-4  # empty bins would make PSI infinite; DataRobot-style smoothing
DRIFT_METRICS = ("psi", "jsd", "hellinger")
# The threshold keys of each metric (PSI keeps the driftWarn/driftFail it always had).
LIMIT_KEYS = {"psi": ("driftWarn", "driftFail"), "jsd": ("jsdWarn", "jsdFail"),
              "hellinger": ("hellingerWarn", "hellingerFail")}
# The distances' defaults are about where PSI's 0.10 / 0.25 land for a small shift
# (JSD ≈ sqrt(PSI / (8 ln 2)), Hellinger ≈ sqrt(PSI / 8)).
DEFAULT_DRIFT_THRESHOLDS = {"driftWarn": 0.10, "driftFail": 0.25, "jsdWarn": 0.13, "jsdFail": 0.21,
                            "hellingerWarn": 0.11, "hellingerFail": 0.18}


def _proportions(counts: Sequence[int | float], size: int) -> list[float] | None:
    total = sum(counts)
    if total <= 0 or len(counts) != size:
        return None
    return [c / total for c in counts]


def psi(expected: list[float], counts: list[int | float]) -> float | None:
    """Return the population stability index of observed counts against baseline proportions."""
    actual = _proportions(counts, len(expected))
    if actual is None:
        return None
    value = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, PSI_FLOOR), max(a, PSI_FLOOR)
        value += (a - e) * math.log(a / e)
    return round(value, 6)


def jensen_shannon(expected: list[float], counts: list[int | float]) -> float | None:
    """Return the Jensen–Shannon distance (square root of the divergence, log base 2: 0 same .. 1 disjoint)."""
    actual = _proportions(counts, len(expected))
    if actual is None:
        return None
    total_e = sum(expected) or 1.0
    divergence = 0.0
    for e, a in zip((x / total_e for x in expected), actual, strict=True):
        m = (e + a) / 2
        if e > 0:
            divergence += 0.5 * e * math.log2(e / m)
        if a > 0:
            divergence += 0.5 * a * math.log2(a / m)
    return round(math.sqrt(max(divergence, 0.0)), 6)


def hellinger(expected: list[float], counts: list[int | float]) -> float | None:
    """Return the Hellinger distance (0 same .. 1 disjoint) of observed counts against baseline proportions."""
    actual = _proportions(counts, len(expected))
    if actual is None:
        return None
    total_e = sum(expected) or 1.0
    overlap = sum(math.sqrt((e / total_e) * a) for e, a in zip(expected, actual, strict=True))
    return round(math.sqrt(max(1.0 - overlap, 0.0)), 6)


MEASURES: dict[str, Callable[[list[float], list[int | float]], float | None]] = {
    "psi": psi, "jsd": jensen_shannon, "hellinger": hellinger}


def drift_metric(dep: Row | None) -> str:
    """Return the metric that drives a deployment's drift status (keyValueConfig driftMetric, default psi)."""
    chosen = str(((dep or {}).get("keyValueConfig") or {}).get("driftMetric", "psi")).lower()
    return chosen if chosen in MEASURES else "psi"


def grade(value: float | None, warn: float, fail: float) -> str:
    """Return passing/warning/failing for a figure against its thresholds (unknown without a figure)."""
    if value is None:
        return "unknown"
    return "failing" if value >= fail else "warning" if value >= warn else "passing"


def drift(baseline: Row | None, dep: Row | None, minutes: list[Row], limits: dict[str, Any]) -> dict[str, Any]:
    """Return every drift measure of predictions and features of the current model's minutes, and the status."""
    metric = drift_metric(dep)
    if baseline is None or dep is None:
        return {"status": "unknown", "metric": metric, "prediction": None, "features": {}}
    current = [m for m in minutes if m["modelId"] == dep["packageId"]]
    prediction_counts: list[int | float] = []
    feature_counts: dict[str, list[int | float]] = {}
    for m in current:
        prediction_counts = add_counts(prediction_counts, m["predictionCounts"])
        for name, counts in m["featureCounts"].items():
            feature_counts[name] = add_counts(feature_counts.get(name, []), counts)
    pred = baseline.get("prediction")
    by_metric: dict[str, dict[str, Any]] = {}
    for name, measure in MEASURES.items():
        by_metric[name] = {
            "prediction": measure(pred["proportions"], prediction_counts) if pred else None,
            "features": {f: measure(bins["proportions"], feature_counts.get(f, []))
                         for f, bins in baseline["features"].items()}}
    chosen = by_metric[metric]
    values = [v for v in [chosen["prediction"], *chosen["features"].values()] if v is not None]
    rows = int(sum(m.get("rows") or 0 for m in current))
    warn_key, fail_key = LIMIT_KEYS[metric]
    warn = limits.get(warn_key, DEFAULT_DRIFT_THRESHOLDS[warn_key])
    fail = limits.get(fail_key, DEFAULT_DRIFT_THRESHOLDS[fail_key])
    enough = rows >= limits["driftMinRows"]
    status = grade(max(values), warn, fail) if values and enough else "unknown"
    # prediction/features stay PSI (what clients read before the other measures existed).
    return {"status": status, "metric": metric, "prediction": by_metric["psi"]["prediction"],
            "features": by_metric["psi"]["features"], "rows": rows, **by_metric}
