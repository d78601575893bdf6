"""Score common scikit-learn models straight from their fitted arrays, skipping per-call input validation.

scikit-learn validates its input on every predict() call (dataframe detection, dtype, finiteness, feature
names): ~250 µs per call, for a few µs of arithmetic on one row. The PPS has already validated and converted
the input (columns, types, finiteness) into a float64 matrix in model order, so for the models below it does
the arithmetic itself with the same numpy operations scikit-learn uses. A direct scorer is used only after it
reproduced the estimator's own output bit for bit on probe inputs at load time; any other model, or any
difference, keeps the estimator's full path.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from bosun_local.configkit.env import env_bool

log = logging.getLogger("bosun_local.pps")

Scorer = Callable[[np.ndarray], np.ndarray]
# The escape hatch (and the bench's off switch): PPS_DIRECT_SCORING=0 keeps every model on its full path.
ENV_SWITCH = "PPS_DIRECT_SCORING"
# Probe shapes: one row (the common request), an odd small batch and one past BLAS's small-matrix paths.
PROBE_ROWS = (1, 7, 300)


def _linear_regressor(est: Any) -> Scorer | None:
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge

    if type(est) not in (LinearRegression, Ridge, Lasso, ElasticNet):
        return None
    coef = est.coef_.T if est.coef_.ndim == 2 else est.coef_
    intercept = est.intercept_
    return lambda x: x @ coef + intercept


def _logistic_proba(est: Any) -> Scorer | None:
    from scipy.special import expit, softmax
    from sklearn.linear_model import LogisticRegression

    if type(est) is not LogisticRegression or est.coef_.ndim != 2:
        return None
    coef_t = est.coef_.T
    intercept = est.intercept_
    if len(est.classes_) <= 2:
        def binary(x: np.ndarray) -> np.ndarray:
            prob = (x @ coef_t + intercept).reshape(-1)
            prob = expit(prob, out=prob)
            return np.stack([1 - prob, prob], axis=1)

        return binary
    return lambda x: softmax(x @ coef_t + intercept, axis=1)


def _scaler(step: Any) -> Scorer | None:
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    if type(step) is StandardScaler:
        mean = step.mean_ if step.with_mean else None
        scale = step.scale_ if step.with_std else None

        def standard(x: np.ndarray) -> np.ndarray:
            x = x.copy()
            if mean is not None:
                x -= mean
            if scale is not None:
                x /= scale
            return x

        return standard
    if type(step) is MinMaxScaler and not step.clip:
        scale_, min_ = step.scale_, step.min_

        def minmax(x: np.ndarray) -> np.ndarray:
            x = x.copy()
            x *= scale_
            x += min_
            return x

        return minmax
    return None


def _final(est: Any, method: str) -> Scorer | None:
    return _linear_regressor(est) if method == "predict" else _logistic_proba(est)


def _compose(est: Any, method: str) -> Scorer | None:
    """Return the arithmetic of a supported estimator or pipeline, None for anything else."""
    from sklearn.pipeline import Pipeline

    if not isinstance(est, Pipeline):
        return _final(est, method)
    steps = [step for _, step in est.steps if step not in (None, "passthrough")]
    if not steps:
        return None
    transforms = [_scaler(step) for step in steps[:-1]]
    final = _final(steps[-1], method)
    if final is None or any(t is None for t in transforms):
        return None
    chain = [t for t in transforms if t is not None]

    def pipeline(x: np.ndarray) -> np.ndarray:
        for transform in chain:
            x = transform(x)
        return final(x)

    return pipeline


def _reproduces(est: Any, method: str, scorer: Scorer, width: int) -> bool:
    """Return True when the scorer gives exactly the estimator's output on probe inputs."""
    rng = np.random.default_rng(20261201)
    reference = getattr(est, method)
    for rows in PROBE_ROWS:
        probe = rng.normal(0.0, 50.0, size=(rows, width))
        try:
            expected = np.asarray(reference(probe))
            got = np.asarray(scorer(probe))
        except Exception as exc:  # a model the arithmetic does not fit: keep the full path
            log.info("direct scoring not used for %s: %s", type(est).__name__, exc)
            return False
        if expected.shape != got.shape or expected.dtype != got.dtype or not np.array_equal(expected, got):
            log.info("direct scoring not used for %s: its output differs from %s()", type(est).__name__, method)
            return False
    return True


def direct_scorer(est: Any, method: str, width: int) -> Scorer | None:
    """Return a validation-free scorer for the estimator when it reproduces `method` exactly, else None."""
    if not env_bool(os.environ, ENV_SWITCH, True):
        return None
    try:
        scorer = _compose(est, method)
    except (AttributeError, ImportError):
        return None
    if scorer is None or not _reproduces(est, method, scorer, width):
        return None
    return scorer
