"""DataRobot custom-model (DRUM) packages: custom.py hooks with DRUM's documented semantics.

Structured: init(code_dir=) -> load_model(code_dir) (else the one .pkl artifact) -> read_input_data(bytes) ->
transform(data, model) -> score(data, model, **kwargs) (else the model's predict/predict_proba) ->
post_process(predictions, model). Unstructured: score_unstructured(model, data, **kwargs). Only the PPS runs this.
"""
from __future__ import annotations

import importlib.util
import inspect
import io
import itertools
import pickle
import sys
from enum import StrEnum
from typing import Any

import numpy as np

from bosun_local.model_package import PackageError, PackageSpec
from bosun_local.pps.inputs import Frame, InputError, load_json
from bosun_local.pps.model import LoadedModel, ModelError, Scored

STRUCTURED_HOOKS = ("init", "load_model", "read_input_data", "transform", "score", "post_process")
UNSTRUCTURED_HOOKS = ("init", "load_model", "score_unstructured")
# The artifact extensions DRUM's Python predictors look for; only pickles load without a hook here.
ARTIFACT_SUFFIXES = (".pkl", ".pth", ".h5", ".onnx")
PREDICTIONS = "Predictions"
_module_ids = itertools.count()


class TargetType(StrEnum):
    """The target_type keyword score() gets: compares equal to its string and has .value, as DRUM's enum does."""

    REGRESSION = "regression"
    BINARY = "binary"
    MULTICLASS = "multiclass"
    UNSTRUCTURED = "unstructured"


def _fail(spec: PackageSpec, problem: str, fix: str) -> PackageError:
    return PackageError(f"model package {spec.directory}: {problem}", fix=fix)


def _import(spec: PackageSpec) -> Any:
    """Import custom.py with its directory on sys.path, as DRUM does, so it can import its own modules."""
    path = spec.directory / "custom.py"
    if not path.is_file():
        return None
    code_dir = str(spec.directory)
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    name = f"_bosun_pps_custom_{next(_module_ids)}"
    try:
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise _fail(spec, f"custom.py failed to import: {type(exc).__name__}: {exc}",
                    "fix the error in custom.py (run `python custom.py` to see it)") from exc
    return module


def _artifact(spec: PackageSpec) -> Any:
    """Load the one artifact DRUM would find (a .pkl) when custom.py has no load_model()."""
    found = sorted(p for p in spec.directory.iterdir() if p.is_file() and p.suffix.lower() in ARTIFACT_SUFFIXES)
    if len(found) != 1:
        what = "no model artifact" if not found else f"{len(found)} artifacts ({', '.join(p.name for p in found)})"
        raise _fail(spec, f"has {what} and custom.py has no load_model()",
                    "keep exactly one .pkl artifact beside custom.py, or define load_model(code_dir)")
    if found[0].suffix.lower() != ".pkl":
        raise _fail(spec, f"artifact {found[0].name} needs a framework this server does not load by itself",
                    "define load_model(code_dir) in custom.py to load it")
    try:
        with found[0].open("rb") as fh:
            return pickle.load(fh, encoding="latin1")  # DRUM's choice: Python 2 pickles load too
    except Exception as exc:
        raise _fail(spec, f"cannot load {found[0].name}: {type(exc).__name__}: {exc}",
                    "re-save the model with the scikit-learn version of this image") from exc


def _call_kwargs(fn: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Return the keywords fn takes: all of them with **kwargs (DRUM's contract), else the ones it names."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return kwargs
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return kwargs
    names = {p.name for p in params}
    return {k: v for k, v in kwargs.items() if k in names}


def _standard(label: Any) -> Any:
    """Return a label comparable across spellings: as DRUM matches 1 with "1.0" and True with "true"."""
    try:
        return float(label)
    except (TypeError, ValueError):
        pass
    text = str(label).strip().lower()
    return {"true": 1.0, "false": 0.0}.get(text, text)


class DrumModel(LoadedModel):
    """A structured custom model run through DRUM's hook pipeline."""

    def __init__(self, spec: PackageSpec, model: Any, hooks: dict[str, Any]) -> None:
        super().__init__(spec, model, "custom", spec.features, True)
        self.hooks = hooks
        self.target_type = TargetType(spec.target_type)
        # The raw body goes to read_input_data; an open schema (no feature list) reads the body as DRUM does.
        self.reads_raw_input = hooks.get("read_input_data") is not None or not spec.features

    def score_kwargs(self) -> dict[str, Any]:
        """Return the keywords DRUM passes to score(): the target type and the class labels."""
        kwargs: dict[str, Any] = {"target_type": self.target_type}
        if self.target_type is TargetType.BINARY:
            kwargs["negative_class_label"], kwargs["positive_class_label"] = self.class_names
        elif self.target_type is TargetType.MULTICLASS:
            kwargs["class_labels"] = list(self.class_names)
        return kwargs

    def read_input(self, body: bytes, media_type: str) -> Frame:
        """Read a raw request body with read_input_data(), else as DRUM does (CSV), or JSON rows."""
        import pandas as pd

        hook = self.hooks.get("read_input_data")
        if hook is not None:
            try:
                data = hook(body)
            except Exception as exc:
                raise ModelError(f"custom.py read_input_data() failed: {type(exc).__name__}: {exc}") from exc
            if data is None:
                raise ModelError("custom.py read_input_data() returned None; it must return the data to score")
        elif media_type in ("application/json", "text/json") or body.lstrip()[:1] in (b"[", b"{"):
            doc = load_json(body)
            if isinstance(doc, dict):
                doc = doc["data"] if isinstance(doc.get("data"), list) else [doc]
            if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
                raise InputError(400, "JSON body must be a list of row objects or {\"data\": [row objects]}")
            data = pd.DataFrame.from_records(doc)
        else:
            data = _read_csv(body)
        return self._frame(data)

    def _frame(self, data: Any) -> Frame:
        import pandas as pd

        if not isinstance(data, pd.DataFrame):  # a read hook may return anything its score() understands
            rows = len(data) if hasattr(data, "__len__") else 1
            return Frame([], np.empty((rows, 0), dtype=object), False, data)
        if len(data) == 0:
            raise InputError(422, "the request has no rows to score")
        if self.schema.features:
            missing = [n for n in self.schema.names if n not in data.columns]
            if missing:
                raise InputError(422, f"missing column(s): {', '.join(missing)} (the model takes: "
                                      f"{', '.join(self.schema.names)})")
            shown = data[self.schema.names]
        else:
            shown = data
        values = shown.astype(object).where(shown.notna(), None).to_numpy()
        return Frame([str(c) for c in shown.columns], values, False, data)

    def score(self, frame: Frame) -> Scored:
        """Run transform, score (or the model's own predict) and post_process; marshal as DRUM does."""
        data = frame.to_dataframe()
        transform = self.hooks.get("transform")
        if transform is not None:
            rows = len(data)
            data = self._hook("transform", transform, data, self.model)
            _check_frame(data, "transform")
            if len(data) != rows:
                raise ModelError(f"custom.py transform() returned {len(data)} rows for {rows}")
        score = self.hooks.get("score")
        if score is not None:
            result = self._hook("score", score, data, self.model, **_call_kwargs(score, self.score_kwargs()))
            _check_frame(result, "score")
            values, labels = self._split_extra(result)
        else:
            values, labels = self._builtin(data)  # type: ignore[assignment]
        marshalled = self._marshal(values, labels, frame.rows if frame.columns else None)
        post = self.hooks.get("post_process")
        if post is not None:
            import pandas as pd

            names = [PREDICTIONS] if not self.is_classifier else list(self.class_names)
            result = self._hook("post_process", post, pd.DataFrame(marshalled, columns=names), self.model)
            if not isinstance(result, pd.DataFrame):
                raise ModelError(f"custom.py post_process() must return a DataFrame, not {type(result).__name__}")
            marshalled = self._marshal(result.to_numpy(), list(result.columns), None)
        if self.is_classifier:
            return Scored([self.class_names[i] for i in marshalled.argmax(axis=1)], marshalled)
        return Scored(marshalled[:, 0].astype(np.float64).tolist())

    def _hook(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (InputError, ModelError):
            raise
        except Exception as exc:
            raise ModelError(f"custom.py {name}() failed: {type(exc).__name__}: {exc}") from exc

    def _builtin(self, data: Any) -> tuple[np.ndarray, list[Any] | None]:
        """Score with the model's own method, as DRUM's scikit-learn predictor does."""
        try:
            if self.is_classifier:
                classes = getattr(self.model, "classes_", None)
                return np.asarray(self.model.predict_proba(data)), None if classes is None else list(classes)
            return np.asarray(self.model.predict(data)), None
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(422, f"the model rejected the input: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            raise ModelError(f"the model failed to score: {type(exc).__name__}: {exc}") from exc

    def _split_extra(self, result: Any) -> tuple[np.ndarray, list[Any]]:
        """Drop the extra model output columns score() may add, keeping the prediction columns."""
        columns = list(result.columns)
        if self.is_classifier:
            wanted = {_standard(n) for n in self.class_names}
            keep = [c for c in columns if _standard(c) in wanted] if len(columns) > len(self.class_names) else columns
        elif len(columns) > 1:
            target = self.spec.target_name if self.spec.target_name in columns else PREDICTIONS
            if target not in columns:
                raise ModelError(f"custom.py score() returned columns {columns}; a regression model returns one "
                                 f"column, or a {PREDICTIONS!r} (or {self.spec.target_name!r}) column among extras")
            keep = [target]
        else:
            keep = columns
        return result[keep].to_numpy(), keep

    def _marshal(self, values: np.ndarray, labels: list[Any] | None, rows: int | None) -> np.ndarray:
        """Return (rows, 1) predictions or (rows, classes) probabilities in classNames order, checked as DRUM does."""
        if values.ndim == 1:
            values = values.reshape(-1, 1)
        if values.ndim != 2:
            raise ModelError(f"the model returned a {values.ndim}-dimensional array; expected rows x columns")
        if rows is not None and values.shape[0] != rows:
            raise ModelError(f"the model returned {values.shape[0]} predictions for {rows} rows")
        if not self.is_classifier:
            if values.shape[1] != 1:
                raise ModelError(f"the model returned {values.shape[1]} columns; a regression model returns one")
            try:
                return values.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ModelError(f"the model returned non-numeric predictions: {exc}") from exc
        names = list(self.class_names)
        if labels is None:
            if values.shape[1] == 1 and len(names) == 2:  # one column is the positive class's probability
                values = np.column_stack([1.0 - values[:, 0], values[:, 0]])
            labels = names
        by_standard = {_standard(n): i for i, n in enumerate(names)}
        order = [by_standard.get(_standard(label)) for label in labels]
        if len(labels) != len(names) or None in order or len(set(order)) != len(names):
            raise ModelError(f"the model returned columns {[str(x) for x in labels]}; expected one per class: {names}")
        probs = np.empty((values.shape[0], len(names)), dtype=np.float64)
        try:
            probs[:, order] = values.astype(np.float64)  # type: ignore[index]  # no None left in order
        except (TypeError, ValueError) as exc:
            raise ModelError(f"the model returned non-numeric probabilities: {exc}") from exc
        if (probs < 0).any() or (probs > 1).any():
            raise ModelError("the model returned probabilities outside [0, 1]")
        if not np.isclose(probs.sum(axis=1), 1).all():
            raise ModelError("the model's class probabilities do not add up to 1 in every row")
        return probs


class UnstructuredModel(DrumModel):
    """An unstructured custom model: bytes or text in, bytes or text out, through score_unstructured()."""

    def __init__(self, spec: PackageSpec, model: Any, hooks: dict[str, Any]) -> None:
        super().__init__(spec, model, hooks)
        self.unstructured = True
        self.reads_raw_input = True  # so /predictions reaches read_input() below and hears where to go instead

    def read_input(self, body: bytes, media_type: str) -> Frame:
        """Refuse structured input: this model takes raw bodies."""
        raise InputError(422, f"model {self.spec.name or self.spec.directory.name} is unstructured: POST the raw "
                              "body to /predictionsUnstructured")

    def score(self, frame: Frame) -> Scored:
        """Refuse structured scoring: this model takes raw bodies."""
        raise InputError(422, f"model {self.spec.name or self.spec.directory.name} is unstructured: POST the raw "
                              "body to /predictionsUnstructured")

    def score_unstructured(self, body: bytes, content_type: str, query: dict[str, str],
                           headers: dict[str, str] | None = None) -> tuple[bytes, str]:
        """Call score_unstructured() with DRUM's data and keyword rules; return the body and its Content-Type."""
        mimetype, charset = _content_type(content_type)
        mimetype = mimetype or "text/plain"
        kwargs: dict[str, Any] = {"mimetype": mimetype, "query": dict(query), "headers": dict(headers or {})}
        data: bytes | str = body
        if mimetype.startswith("text/") or mimetype == "application/json":
            charset = charset or "utf8"  # DRUM's documented default spelling
            try:
                data = body.decode(charset)
            except (LookupError, UnicodeDecodeError) as exc:
                raise InputError(400, f"the body is not {charset} text ({exc}); send the charset it is in") from exc
        if charset is not None:
            kwargs["charset"] = charset
        hook = self.hooks["score_unstructured"]
        result = self._hook("score_unstructured", hook, self.model, data, **kwargs)
        out, extra = result if isinstance(result, tuple) and len(result) == 2 else (result, None)
        if isinstance(result, tuple) and len(result) != 2:
            raise ModelError(f"custom.py score_unstructured() returned a tuple of {len(result)}; return data or "
                             "(data, {\"mimetype\": ..., \"charset\": ...})")
        if not isinstance(out, (str, bytes, type(None))) or not isinstance(extra, (dict, type(None))):
            raise ModelError(f"custom.py score_unstructured() returned {type(out).__name__}; return str or bytes, "
                             "optionally with a dict of mimetype/charset")
        extra = extra or {}
        if isinstance(out, bytes):
            mimetype_out, charset_out = extra.get("mimetype", "application/octet-stream"), extra.get("charset")
            return out, mimetype_out + (f"; charset={charset_out}" if charset_out else "")
        mimetype_out, charset_out = extra.get("mimetype", "text/plain"), extra.get("charset", "utf8")
        try:
            encoded = (out or "").encode(charset_out)
        except (LookupError, UnicodeEncodeError) as exc:
            raise ModelError(f"custom.py score_unstructured() output cannot be encoded as {charset_out}: {exc}") \
                from exc
        return encoded, f"{mimetype_out}; charset={charset_out}"


def _content_type(header: str) -> tuple[str, str | None]:
    """Split a Content-Type header into its mimetype and charset."""
    mimetype, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return mimetype.strip().lower(), charset


def _check_frame(value: Any, hook: str) -> None:
    import pandas as pd

    if not isinstance(value, pd.DataFrame):
        raise ModelError(f"custom.py {hook}() must return a DataFrame, not {type(value).__name__}")


def _read_csv(body: bytes) -> Any:
    """Read CSV the way DRUM does (pandas' type inference; one column keeps blank lines as missing values)."""
    import pandas as pd

    if not body.strip():
        raise InputError(400, "the request body is empty; send CSV with a header row")
    try:
        frame = pd.read_csv(io.BytesIO(body))
        if frame.shape[1] == 1:
            frame = pd.read_csv(io.BytesIO(body), skip_blank_lines=False)
    except UnicodeDecodeError:
        raise InputError(400, "the CSV body is not UTF-8 text") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise InputError(400, f"malformed CSV: {str(exc).strip()}") from None
    return frame


def load_drum(spec: PackageSpec) -> LoadedModel:
    """Load a custom-model package: import custom.py, run init() and load_model() (or load the artifact)."""
    module = _import(spec)
    unstructured = spec.target_type == "unstructured"
    names = UNSTRUCTURED_HOOKS if unstructured else STRUCTURED_HOOKS
    hooks = {name: getattr(module, name, None) for name in names} if module is not None else {}
    hooks = {name: fn for name, fn in hooks.items() if callable(fn)}
    if unstructured and "score_unstructured" not in hooks:
        raise _fail(spec, "targetType is unstructured but custom.py has no score_unstructured() function",
                    "define score_unstructured(model, data, **kwargs) in custom.py")
    code_dir = str(spec.directory)
    if "init" in hooks:
        try:
            hooks["init"](code_dir=code_dir)  # type: ignore[misc]  # only callables were kept
        except Exception as exc:
            raise _fail(spec, f"custom.py init() failed: {type(exc).__name__}: {exc}", "fix init()") from exc
    if "load_model" in hooks:
        try:
            model = hooks["load_model"](code_dir)  # type: ignore[misc]  # only callables were kept
        except Exception as exc:
            raise _fail(spec, f"custom.py load_model() failed: {type(exc).__name__}: {exc}",
                        "fix load_model() or the files it reads") from exc
        if model is None:
            raise _fail(spec, "custom.py load_model() returned None", "return the loaded model (any non-None value)")
    elif unstructured and not any(p.suffix.lower() in ARTIFACT_SUFFIXES for p in spec.directory.iterdir()):
        model = "no model"  # DRUM lets an unstructured model do without an artifact
    else:
        model = _artifact(spec)
    if unstructured:
        return UnstructuredModel(spec, model, hooks)
    method = "predict_proba" if spec.target_type != "regression" else "predict"
    if "score" not in hooks and not callable(getattr(model, method, None)):
        raise _fail(spec, f"custom.py has no score() hook and the model ({type(model).__name__}) has no {method}()",
                    "define score(data, model, **kwargs) in custom.py, or load an estimator with " + method + "()")
    return DrumModel(spec, model, hooks)
