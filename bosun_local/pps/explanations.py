"""Prediction explanations: per-feature contributions of scikit-learn linear and tree models.

Linear models get exact contributions, coef_i * (x_i - mean_i) with the training data's means (the SHAP values
of a linear model with independent features); tree models get TreeSHAP (path-dependent, from the `shap`
library, so no background data is needed). Contributions are in the model's raw output: target units for
regression, log-odds for linear classifiers and gradient boosting, probability for forests. A model we cannot
explain exactly answers a 422, so a request for explanations is never answered without them.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from bosun_local.pps.inputs import Frame, InputError
from bosun_local.pps.model import LoadedModel, ModelError, Scored

# Transformers that map column i to column i by an affine function, so a contribution to a transformed column
# is still the contribution of the same input feature (and the mean maps to the mean).
ELEMENTWISE_AFFINE = frozenset({"StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler"})
TREE_MODULES = ("sklearn.tree", "sklearn.ensemble")


@dataclass(frozen=True, slots=True)
class Explanation:
    """One feature's contribution to one row's prediction."""

    feature: str
    value: Any
    strength: float
    qualitative: str


class Explainer:
    """Computes contributions (rows x features) for one loaded model."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.pre, self.final = _split_pipeline(model)
        self.kind = "linear" if _is_linear(self.final) else "tree"
        self._mean: np.ndarray | None = None
        self._tree: Any = None
        if self.kind == "linear":
            self._mean = self._transform(_training_mean(model))
        else:
            import shap  # heavy (numba); imported on the first explained request only

            try:
                self._tree = shap.TreeExplainer(self.final)
            except Exception as exc:  # shap names the model types it supports
                raise _unavailable(model, f"TreeSHAP cannot read {type(self.final).__name__}: {exc}") from exc

    def _transform(self, values: np.ndarray) -> np.ndarray:
        for step in self.pre:
            values = np.asarray(step.transform(values), dtype=np.float64)
        return values

    def contributions(self, frame: Frame, scored: Scored) -> np.ndarray:
        """Return each feature's contribution to each row's explained output (n, k)."""
        x = self._transform(frame.values.astype(np.float64))
        target = _explained_class(self.model, scored)
        if self.kind == "linear":
            assert self._mean is not None
            coef = np.atleast_2d(np.asarray(self.final.coef_, dtype=np.float64))
            weights = coef[target] if coef.shape[0] > 1 else np.broadcast_to(coef[0], x.shape)
            return weights * (x - self._mean)
        values = self._tree.shap_values(x, check_additivity=False)
        if isinstance(values, list):  # older shap: one (n, k) array per class
            values = np.stack(values, axis=-1)
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 3:
            return values[np.arange(values.shape[0]), :, target]
        return values


def _unavailable(model: LoadedModel, why: str) -> InputError:
    return InputError(422, f"prediction explanations are not available for model package {model.spec.name!r}: "
                           f"{why}. Explanations cover scikit-learn linear models and tree models (decision trees, "
                           "random forests, extra trees, gradient boosting), optionally after StandardScaler/"
                           "MinMaxScaler/MaxAbsScaler/RobustScaler steps, on numeric features; drop maxExplanations "
                           "to get predictions only")


def _split_pipeline(model: LoadedModel) -> tuple[list[Any], Any]:
    """Return (elementwise pre-processing steps, final estimator); 422 for anything we cannot explain exactly."""
    if model.kind != "sklearn":
        raise _unavailable(model, "it is a custom model (custom.py)")
    if not model.schema.numeric:
        raise _unavailable(model, "it has categorical/text features")
    est = model.model
    pre: list[Any] = []
    steps = getattr(est, "steps", None)
    if steps is not None:
        *head, (_, est) = steps
        for name, step in head:
            if step in (None, "passthrough"):
                continue
            if type(step).__name__ not in ELEMENTWISE_AFFINE:
                raise _unavailable(model, f"its pipeline step {name!r} ({type(step).__name__}) mixes or reshapes "
                                          "features, so contributions would not belong to input features")
            pre.append(step)
    if not (_is_linear(est) or type(est).__module__.startswith(TREE_MODULES) and hasattr(est, "estimators_")
            or type(est).__module__.startswith(TREE_MODULES) and hasattr(est, "tree_")):
        raise _unavailable(model, f"it is a {type(est).__module__}.{type(est).__name__}")
    return pre, est


def _is_linear(est: Any) -> bool:
    return type(est).__module__.startswith("sklearn.linear_model") and hasattr(est, "coef_")


def _training_mean(model: LoadedModel) -> np.ndarray:
    """Return the training data's feature means (the base point of exact linear contributions)."""
    path = model.spec.training_path
    if path is None:
        raise _unavailable(model, "a linear model's contributions are measured from the training data's mean, and "
                                  "the package has no training data (add training.csv or trainingData in model.yaml)")
    import pandas as pd

    try:
        data = pd.read_csv(path, usecols=model.schema.names)
    except (OSError, ValueError) as exc:
        raise _unavailable(model, f"its training data {path.name} cannot be read for feature means: {exc}") from exc
    return data[model.schema.names].astype(np.float64).mean().to_numpy().reshape(1, -1)


def _explained_class(model: LoadedModel, scored: Scored) -> np.ndarray:
    """Return per row the class whose output is explained: the positive class (binary) or the predicted one."""
    rows = len(scored.predictions)
    if scored.probabilities is None:
        return np.zeros(rows, dtype=np.int64)
    if scored.probabilities.shape[1] == 2:
        return np.ones(rows, dtype=np.int64)
    return np.asarray(scored.probabilities.argmax(axis=1), dtype=np.int64)


_explainers: weakref.WeakKeyDictionary[LoadedModel, Explainer] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def explainer_for(model: LoadedModel) -> Explainer:
    """Return the model's explainer, built once (a replaced model is a new LoadedModel, so a new one)."""
    with _lock:
        found = _explainers.get(model)
        if found is None:
            found = _explainers[model] = Explainer(model)
        return found


def explainer_ready(model: LoadedModel) -> bool:
    """Return True when the model's explainer is built."""
    return model in _explainers


def cheap(model: LoadedModel) -> bool:
    """Return True when explaining a small batch is cheap enough for the event loop: built and linear.

    TreeSHAP costs milliseconds per row (bench/explanation_overhead.py), so it always runs in a thread.
    """
    found = _explainers.get(model)
    return found is not None and found.kind == "linear"


def explained_value(scored: Scored, row: int) -> float:
    """Return the value thresholds compare with: the prediction (regression) or the explained class's probability."""
    if scored.probabilities is None:
        return float(scored.predictions[row])
    probs = scored.probabilities[row]
    return float(probs[1] if probs.shape[0] == 2 else probs.max())


def qualitative(strengths: np.ndarray, largest: np.ndarray) -> list[list[str]]:
    """Return DataRobot-style +++/---: 3, 2 or 1 signs for >= 50 %, >= 25 %, < 25 % of the row's largest strength."""
    share = np.divide(np.abs(strengths), largest, out=np.zeros_like(strengths), where=largest > 0)
    count = np.where(share >= 0.5, 3, np.where(share >= 0.25, 2, 1))
    signed = np.where(strengths >= 0, count, -count)
    return [[SIGNS[c] for c in row] for row in signed.tolist()]


SIGNS = {3: "+++", 2: "++", 1: "+", -1: "-", -2: "--", -3: "---"}


def explain(model: LoadedModel, frame: Frame, scored: Scored, max_explanations: int,
            threshold_high: float | None = None, threshold_low: float | None = None) -> list[list[Explanation] | None]:
    """Return the top contributions of each row (None for rows the thresholds leave out)."""
    selected = list(range(frame.rows))
    if threshold_high is not None or threshold_low is not None:
        selected = [i for i in selected if (threshold_high is not None and explained_value(scored, i) > threshold_high)
                    or (threshold_low is not None and explained_value(scored, i) < threshold_low)]
    out: list[list[Explanation] | None] = [None] * frame.rows
    if not selected:
        return out
    explainer = explainer_for(model)
    values = frame.values[selected]
    sub_scored = Scored([scored.predictions[i] for i in selected],
                        None if scored.probabilities is None else scored.probabilities[selected])
    try:
        contributions = explainer.contributions(Frame(frame.columns, values, frame.numeric), sub_scored)
    except Exception as exc:  # the model scored these rows, so a failure here is ours or shap's: a system error
        raise ModelError(f"computing prediction explanations failed: {type(exc).__name__}: {exc}") from exc
    # Whole-matrix numpy, then one .tolist() each: per-row numpy calls cost more than the contributions.
    magnitude = np.abs(contributions)
    order = np.argsort(-magnitude, axis=1, kind="stable")[:, :max_explanations]
    strengths = np.take_along_axis(contributions, order, axis=1)
    signs = qualitative(strengths, magnitude.max(axis=1, keepdims=True))
    picked = np.take_along_axis(values, order, axis=1).tolist()
    names = frame.columns
    for r, (i, cols, strength_row) in enumerate(zip(selected, order.tolist(), strengths.tolist(), strict=True)):
        out[i] = [Explanation(names[j], v, st, q) for j, v, st, q in zip(cols, picked[r], strength_row, signs[r],
                                                                          strict=True)]
    return out
