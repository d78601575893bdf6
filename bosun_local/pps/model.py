"""Load a model package (pickle, joblib or custom.py) and score Frames with it."""
from __future__ import annotations

import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bosun_local.model_package import Feature, PackageError, PackageSpec, load_spec
from bosun_local.pps.direct_scoring import Scorer, direct_scorer
from bosun_local.pps.inputs import Frame, InputError, Schema

# Sklearn models score small batches faster inline than through a thread hop; big ones go to a thread
# so one large request does not stall every other connection.
INLINE_ROWS = 256
# Safety net: fit-time names are checked once at load and dropped from plain estimators (below), but a
# later pipeline step may still carry names and would warn on every numpy call.
warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)


class ModelError(Exception):
    """The model failed on input that passed validation: a server-side (system) error."""


@dataclass(frozen=True, slots=True)
class Scored:
    """Model output per row: a number (regression) or a label, plus class probabilities for classifiers."""

    predictions: list[Any]
    probabilities: np.ndarray | None = None


def _load_error(spec: PackageSpec, problem: str, fix: str) -> PackageError:
    return PackageError(f"model package {spec.directory}: {problem}", fix=fix)


def _selects_columns_by_name(est: Any) -> bool:
    """Return True when the estimator picks columns by name (a ColumnTransformer somewhere inside)."""
    try:
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import FeatureUnion, Pipeline
    except ImportError:
        return False
    if isinstance(est, ColumnTransformer):
        return True
    if isinstance(est, Pipeline):
        return any(_selects_columns_by_name(step) for _, step in est.steps)
    if isinstance(est, FeatureUnion):
        return any(_selects_columns_by_name(t) for _, t in est.transformer_list)
    return False


def _drop_fit_names(est: Any) -> None:
    """Forget fit-time column names so numpy input is not re-checked (and warned about) on every call."""
    try:
        from sklearn.pipeline import Pipeline
    except ImportError:
        return
    while isinstance(est, Pipeline) and est.steps:
        est = est.steps[0][1]
    if "feature_names_in_" in vars(est):
        del est.feature_names_in_


class LoadedModel:
    """A loaded package, ready to score rows in the model's column order."""

    def __init__(self, spec: PackageSpec, model: Any, kind: str, features: tuple[Feature, ...],
                 needs_dataframe: bool, direct: Scorer | None = None) -> None:
        self.spec = spec
        self.model = model
        self.kind = kind
        self.schema = Schema(features)
        self.needs_dataframe = needs_dataframe
        self.class_names = list(spec.class_names)
        self.is_classifier = spec.target_type in ("binary", "multiclass")
        self.unstructured = False
        self.reads_raw_input = False  # True: the raw body goes to read_input() (a custom model's read_input_data)
        self.direct = direct  # the estimator's arithmetic without per-call validation (direct_scoring.py)

    def inline(self, rows: int) -> bool:
        """Return True when scoring this many rows is cheap enough to do on the event loop."""
        return self.kind == "sklearn" and rows <= INLINE_ROWS

    def score(self, frame: Frame) -> Scored:
        """Score the rows; InputError when the model rejects the values, ModelError when it fails."""
        data = frame.to_dataframe() if self.needs_dataframe else frame.values
        try:
            # Missing values (NaN) take the full path: the estimator decides whether it accepts them.
            if self.direct is not None and data.dtype == np.float64 and not np.isnan(data).any():
                raw = self.direct(data)
            elif self.is_classifier:
                raw = self.model.predict_proba(data)
            else:
                raw = self.model.predict(data)
        except (ValueError, TypeError) as exc:
            raise InputError(422, f"the model rejected the input: {exc}") from exc
        except Exception as exc:
            raise ModelError(f"the model failed to score: {type(exc).__name__}: {exc}") from exc
        return self._classify(raw, frame.rows) if self.is_classifier else self._regress(raw, frame.rows)

    def _regress(self, raw: Any, rows: int) -> Scored:
        if hasattr(raw, "columns"):
            columns = list(raw.columns)
            if "Predictions" in columns:
                raw = raw["Predictions"]
            elif len(columns) == 1:
                raw = raw[columns[0]]
            else:
                raise ModelError(f"the model returned columns {columns}; a regression model returns one column "
                                 "(named Predictions) or a 1-d array")
        values = np.asarray(raw, dtype=np.float64).reshape(-1)
        if values.shape[0] != rows:
            raise ModelError(f"the model returned {values.shape[0]} predictions for {rows} rows")
        return Scored(values.tolist())

    def _classify(self, raw: Any, rows: int) -> Scored:
        names = self.class_names
        if hasattr(raw, "columns"):
            columns = {str(c): c for c in raw.columns}
            missing = [n for n in names if n not in columns]
            if missing:
                raise ModelError(f"the model returned columns {list(columns)}; expected one per class: {names}")
            raw = raw[[columns[n] for n in names]]
        probs = np.asarray(raw, dtype=np.float64)
        if probs.ndim == 1 and len(names) == 2:
            probs = np.column_stack([1.0 - probs, probs])
        if probs.ndim != 2 or probs.shape != (rows, len(names)):
            raise ModelError(f"the model returned probabilities of shape {probs.shape}; expected ({rows}, "
                             f"{len(names)}) for classes {names}")
        labels = [names[i] for i in probs.argmax(axis=1)]
        return Scored(labels, probs)


def _unpickle(spec: PackageSpec) -> Any:
    path = spec.model_path
    try:
        if path.suffix == ".joblib":
            import joblib

            return joblib.load(path)
        with path.open("rb") as fh:
            return pickle.load(fh)
    except Exception as exc:
        raise _load_error(spec, f"cannot load {spec.model_file}: {type(exc).__name__}: {exc}",
                          "re-save the model with pickle/joblib using the scikit-learn version of this image") from exc


def _model_features(spec: PackageSpec, est: Any) -> tuple[Feature, ...]:
    """Return the spec's features in the order the estimator was fitted with; fail on a mismatch."""
    fitted = getattr(est, "feature_names_in_", None)
    if fitted is not None:
        fitted = [str(n) for n in fitted]
        if set(fitted) != set(spec.feature_names):
            raise _load_error(spec, f"the model was fitted on columns {fitted} but model.yaml lists "
                                    f"{spec.feature_names}", "make model.yaml's features match the training columns")
        by_name = {f.name: f for f in spec.features}
        return tuple(by_name[n] for n in fitted)
    count = getattr(est, "n_features_in_", None)
    if count is not None and count != len(spec.features):
        raise _load_error(spec, f"the model takes {count} columns but model.yaml lists {len(spec.features)}",
                          "list the model's input columns in model.yaml in training order")
    return spec.features


def _check_classes(spec: PackageSpec, est: Any) -> None:
    classes = getattr(est, "classes_", None)
    if classes is None:
        return
    fitted = [str(c) for c in classes]
    if len(fitted) != len(spec.class_names):
        raise _load_error(spec, f"the model has {len(fitted)} classes {fitted} but model.yaml lists "
                                f"{list(spec.class_names)}", "list the model's classes in classNames")
    if set(fitted) == set(spec.class_names) and fitted != list(spec.class_names):
        raise _load_error(spec, f"classNames {list(spec.class_names)} are not in predict_proba order {fitted}",
                          f"write classNames: {fitted}")


def load_package(directory: Path | str) -> LoadedModel:
    """Load and check a package; PackageError (naming the package and the fix) when it cannot serve."""
    spec = load_spec(directory)
    if spec.is_custom or not spec.features:
        from bosun_local.pps.drum_hooks import load_drum  # DRUM's contract: custom.py hooks, or an open schema

        return load_drum(spec)
    est = _unpickle(spec)
    method = "predict_proba" if spec.target_type != "regression" else "predict"
    if not callable(getattr(est, method, None)):
        raise _load_error(spec, f"{spec.model_file} holds a {type(est).__name__}, which has no {method}()",
                          f"save a fitted estimator with {method}() or use targetType "
                          f"{'regression' if method == 'predict_proba' else 'binary/multiclass'}")
    if spec.target_type != "regression":
        _check_classes(spec, est)
    features = _model_features(spec, est)
    numeric = all(f.type == "numeric" for f in features)
    needs_dataframe = not numeric or _selects_columns_by_name(est)
    direct = None
    if not needs_dataframe:
        _drop_fit_names(est)
        direct = direct_scorer(est, method, len(features))
    return LoadedModel(spec, est, "sklearn", features, needs_dataframe, direct)
