"""Turn V2 input tensors into the model's Frame, and scored rows into the V2 outputs the client asked for."""
from __future__ import annotations

from typing import Any

import numpy as np

from bosun_local.pps.inputs import Frame, Schema
from bosun_local.pps.model import LoadedModel, Scored
from bosun_local.pps.v2_codec import OutputTensor, RequestedOutput, Tensor, bad

PREDICT = "predict"
PROBA = "predict_proba"


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            raise bad("a BYTES value is not UTF-8 text") from None
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list, bool)):
        raise bad(f"expected a single text value, got {value!r}")
    return str(value)


def _numbers(values: Any, column: str, datatype: str) -> np.ndarray:
    """Return a column as float64; NaN is a missing value, inf and non-numbers are 400s."""
    if isinstance(values, np.ndarray):
        if datatype == "BOOL":
            raise bad(f"column {column!r}: expected numbers, got a BOOL tensor")
        out = values.astype(np.float64)
    elif (quick := np.asarray(values)).dtype.kind in "iuf":  # plain JSON numbers: no per-value Python loop
        out = quick.astype(np.float64).reshape(-1)
    else:
        out = np.empty(len(values), dtype=np.float64)
        for i, value in enumerate(values):
            if isinstance(value, bytes):
                value = _text(value)
            if value is None or value == "":
                out[i] = np.nan
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise bad(f"column {column!r} row {i}: expected a number, got {value!r}")
            try:
                out[i] = float(value)
            except ValueError:
                raise bad(f"column {column!r} row {i}: {value!r} is not a number") from None
    if np.isinf(out).any():
        row = int(np.flatnonzero(np.isinf(out))[0])
        raise bad(f"column {column!r} row {row}: {out[row]} is not a finite number")
    return out


def _texts(values: Any) -> list[str | None]:
    if isinstance(values, np.ndarray):
        return [str(v) for v in values.tolist()]
    return [_text(v) for v in values]


def _column(tensor: Tensor, values: Any, numeric: bool) -> Any:
    return _numbers(values, tensor.name, tensor.datatype) if numeric else _texts(values)


def frame_from_tensors(tensors: list[Tensor], schema: Schema) -> Frame:
    """Return the rows to score: one tensor per feature ([n] or [n, 1]), or one [n, k] tensor in feature order."""
    names = [t.name for t in tensors]
    if not schema.features:  # an open schema (a DRUM model without a feature list): the tensors are the columns
        return _open_frame(tensors)
    if len(tensors) == 1 and names[0] not in schema.name_set:
        tensor = tensors[0]
        width = len(schema.names)
        if len(tensor.shape) != 2 or tensor.shape[1] != width:
            raise bad(f"input {tensor.name!r} has shape {tensor.shape}; a single tensor must be [rows, {width}] "
                      f"with columns {', '.join(schema.names)}, or send one tensor per feature")
        rows = tensor.shape[0]
        if rows == 0:
            raise bad("the request has no rows to score")
        if schema.numeric:
            return Frame(schema.names, _numbers(tensor.values, tensor.name, tensor.datatype).reshape(rows, width),
                         True)
        flat = tensor.values
        columns = [_column(tensor, flat[j::width], f.type == "numeric") for j, f in enumerate(schema.features)]
        return _frame(schema, columns, rows)
    if len(set(names)) != len(names):
        raise bad(f"V2 inputs name a tensor twice: {sorted({n for n in names if names.count(n) > 1})}")
    given = set(names)
    missing = [n for n in schema.names if n not in given]
    extra = sorted(given - schema.name_set)
    if missing or extra:
        problems = ([f"missing input(s): {', '.join(missing)}"] if missing else []) + \
                   ([f"unknown input(s): {', '.join(extra)}"] if extra else [])
        raise bad(f"V2 inputs: {'; '.join(problems)} (the model takes: {', '.join(schema.names)})")
    by_name = {t.name: t for t in tensors}
    for tensor in tensors:
        if len(tensor.shape) not in (1, 2) or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
            raise bad(f"input {tensor.name!r} has shape {tensor.shape}; a feature tensor must be [rows] or [rows, 1]")
    lengths = {t.name: t.shape[0] for t in tensors}
    if len(set(lengths.values())) != 1:
        raise bad(f"V2 inputs have different row counts: {lengths}")
    rows = next(iter(lengths.values()))
    if rows == 0:
        raise bad("the request has no rows to score")
    columns = [_column(by_name[f.name], by_name[f.name].values, f.type == "numeric") for f in schema.features]
    return _frame(schema, columns, rows)


def _frame(schema: Schema, columns: list[Any], rows: int) -> Frame:
    if schema.numeric:
        return Frame(schema.names, np.column_stack(columns), True)
    values = np.empty((rows, len(columns)), dtype=object)
    for j, column in enumerate(columns):
        values[:, j] = column.tolist() if isinstance(column, np.ndarray) else column
    return Frame(schema.names, values, False)


def _open_frame(tensors: list[Tensor]) -> Frame:
    rows = {t.name: t.shape[0] if t.shape else 1 for t in tensors}
    if len(set(rows.values())) != 1:
        raise bad(f"V2 inputs have different row counts: {rows}")
    count = next(iter(rows.values()))
    if count == 0:
        raise bad("the request has no rows to score")
    columns = [_column(t, t.values, t.datatype != "BYTES") for t in tensors]
    numeric = all(t.datatype != "BYTES" for t in tensors)
    if numeric:
        return Frame([t.name for t in tensors], np.column_stack(columns), True)
    values = np.empty((count, len(columns)), dtype=object)
    for j, column in enumerate(columns):
        values[:, j] = column.tolist() if isinstance(column, np.ndarray) else column
    return Frame([t.name for t in tensors], values, False)


def output_specs(model: LoadedModel) -> list[tuple[str, str, list[int]]]:
    """Return (name, datatype, shape) of every output the model has."""
    if not model.is_classifier:
        return [(PREDICT, "FP64", [-1])]
    return [(PREDICT, "BYTES", [-1]), (PROBA, "FP64", [-1, len(model.class_names)])]


def _classification(model: LoadedModel, scored: Scored, name: str, top: int) -> OutputTensor:
    """Return Triton's classification output: per row the top classes as "probability:index:label"."""
    if scored.probabilities is None:
        raise bad(f"output {name!r}: classification needs a classifier; this model is a regression")
    probs = scored.probabilities
    top = min(top, probs.shape[1])
    order = np.argsort(-probs, axis=1, kind="stable")[:, :top]
    labels = model.class_names
    values = [f"{probs[r, c]}:{c}:{labels[c]}" for r in range(probs.shape[0]) for c in order[r]]
    return OutputTensor(name, "BYTES", [probs.shape[0], top], values)


def build_outputs(model: LoadedModel, scored: Scored, model_name: str, requested: list[RequestedOutput] | None,
                  binary_default: bool) -> list[tuple[OutputTensor, bool]]:
    """Return the outputs to send, each with whether it goes as binary data; 400 for an output the model lacks."""
    rows = len(scored.predictions)
    available: dict[str, OutputTensor] = {}
    if scored.probabilities is None:
        available[PREDICT] = OutputTensor(PREDICT, "FP64", [rows], np.asarray(scored.predictions, dtype=np.float64))
    else:
        available[PREDICT] = OutputTensor(PREDICT, "BYTES", [rows], scored.predictions)
        available[PROBA] = OutputTensor(PROBA, "FP64", [rows, len(model.class_names)], scored.probabilities,
                                        {"classNames": model.class_names})
    if requested is None:
        return [(tensor, binary_default) for tensor in available.values()]
    out: list[tuple[OutputTensor, bool]] = []
    for want in requested:
        if want.name not in available:
            raise bad(f"unexpected inference output {want.name!r} for model {model_name!r}; its outputs are "
                      f"{', '.join(available)}")
        tensor = _classification(model, scored, want.name, want.classification) if want.classification \
            else available[want.name]
        out.append((tensor, want.binary))
    return out
