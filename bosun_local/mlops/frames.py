"""Turn what apps pass to report_* (DataFrames, dicts, lists, numpy arrays) into JSON-ready columns."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bosun_local.mlops.exceptions import DRApiException, DRUnsupportedType


class MLOpsInputError(DRApiException, DRUnsupportedType):
    """An argument of a report_* call has the wrong shape or type."""


def _is_frame(value: Any) -> bool:
    """Return True for a pandas DataFrame (``.dtypes`` would build a Series: check cheap attributes only)."""
    return hasattr(value, "columns") and hasattr(value, "to_numpy") and hasattr(value, "iloc")


def _clean(values: list[Any]) -> list[Any]:
    """Replace NaN/inf (not valid JSON) by null; leave other values alone."""
    for i, v in enumerate(values):
        if isinstance(v, float) and not math.isfinite(v):
            values[i] = None
    return values


_PLAIN_NUMBERS = {int, float}


def _finite_sum(values: list[int | float]) -> bool:
    """Return True when the numbers' sum is finite: then none of them is NaN or infinite."""
    try:
        return math.isfinite(sum(values))
    except OverflowError:  # an int too large for a float: let _clean look at each value
        return False


def _column_list(values: Any, name: str) -> list[Any]:
    """Return a plain list copy of one column (list, tuple, numpy array or pandas Series)."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "fiub":
        # A numeric numpy column (a server's batch): one C conversion, NaN looked for only when there is one.
        out = values.tolist()
        return _clean(out) if values.dtype.kind == "f" and not bool(np.isfinite(values).all()) else out
    if hasattr(values, "tolist"):
        out = values.tolist()
    elif isinstance(values, list | tuple):
        out = list(values)
        if set(map(type, out)) <= _PLAIN_NUMBERS:  # one C pass per column (a server's numeric batches)
            return _clean(out) if not _finite_sum(out) else out
    else:
        raise MLOpsInputError(
            f"feature column {name!r} is a {type(values).__name__}",
            fix="pass each column as a list (or a pandas DataFrame)",
        )
    # datetimes and other non-JSON scalars become text; numbers stay numbers
    return _clean([v if v is None or isinstance(v, str | int | float | bool) else str(v) for v in out])


def _jsonable(value: Any) -> Any:
    """Return a JSON-ready scalar: numbers and text as is, numpy scalars unwrapped, NaN as null, others as text."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item") and not hasattr(value, "isoformat"):
        return _jsonable(value.item())
    if value != value:  # NaT and other NaN-likes
        return None
    return str(value)


def _frame_columns(df: Any) -> dict[str, list[Any]]:
    """Return the columns of a pandas DataFrame, NaN as null, datetimes as text."""
    names = [str(c) for c in df.columns]
    values = df.to_numpy()
    kind = values.dtype.kind
    if kind in "fiub":
        # One numeric block (the common case): a single C-level conversion instead of one per column.
        columns = values.T.tolist()
        if kind == "f" and not bool(np.isfinite(values).all()):
            columns = [_clean(col) for col in columns]
        return dict(zip(names, columns, strict=True))
    return {name: [_jsonable(v) for v in col] for name, col in zip(names, values.T.tolist(), strict=True)}


def normalize_features(features: Any) -> dict[str, list[Any]] | None:
    """Return features as column -> list from a DataFrame, a dict of lists or a list of row dicts."""
    if features is None:
        return None
    if _is_frame(features):
        return _frame_columns(features)
    if isinstance(features, Mapping):
        columns = {str(k): _column_list(v, str(k)) for k, v in features.items()}
    elif isinstance(features, Sequence) and not isinstance(features, str | bytes):
        columns = _rows_to_columns(features)
    else:
        raise MLOpsInputError(
            f"features_df is a {type(features).__name__}",
            fix="pass a pandas DataFrame, a dict of column -> list, or a list of row dicts",
        )
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        detail = ", ".join(f"{k}={len(v)}" for k, v in columns.items())
        raise MLOpsInputError(
            f"features_df columns differ in length: {detail}", fix="give every column one value per row"
        )
    return columns


def _rows_to_columns(rows: Sequence[Any]) -> dict[str, list[Any]]:
    """Pivot a list of row dicts into columns; a key missing in a row becomes null."""
    names: dict[str, None] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise MLOpsInputError(
                f"features_df[{i}] is a {type(row).__name__}, not a row dict",
                fix="pass a list of dicts (one per row), a dict of column -> list, or a DataFrame",
            )
        for key in row:
            names.setdefault(key, None)
    columns = {str(name): [row.get(name) for row in rows] for name in names}
    return {k: _column_list(v, k) for k, v in columns.items()}


def normalize_predictions(
    predictions: Any, class_names: Sequence[str] | None
) -> tuple[list[Any] | None, list[str] | None]:
    """Return predictions as a list (numbers/labels, or probability lists) and the class names."""
    if predictions is None:
        return None, list(class_names) if class_names is not None else None
    names = [str(c) for c in class_names] if class_names is not None else None
    if _is_frame(predictions):
        if names is None:
            names = [str(c) for c in predictions.columns]
        values = predictions.to_numpy().tolist()
        if len(predictions.columns) == 1 and class_names is None:
            values, names = [row[0] for row in values], None
    elif hasattr(predictions, "tolist"):
        values = predictions.tolist()
    elif isinstance(predictions, Sequence) and not isinstance(predictions, str | bytes):
        values = [p.tolist() if hasattr(p, "tolist") else (list(p) if isinstance(p, tuple) else p) for p in predictions]
    else:
        raise MLOpsInputError(
            f"predictions is a {type(predictions).__name__}",
            fix="pass a list of predictions (numbers, labels, or one probability list per row)",
        )
    if not isinstance(values, list):
        raise MLOpsInputError("predictions is a scalar", fix="pass one prediction per row, as a list")
    probability_rows = bool(values) and isinstance(values[0], list)
    if probability_rows:
        if names is None:
            raise MLOpsInputError(
                "predictions are probability lists but class_names is missing",
                fix="pass class_names=[...] in the order of the probability columns",
            )
        for i, row in enumerate(values):
            if not isinstance(row, list) or len(row) != len(names):
                raise MLOpsInputError(
                    f"predictions[{i}] has {len(row) if isinstance(row, list) else 1} values for {len(names)} classes",
                    fix="give one probability per class name in every row",
                )
            _clean(row)
    else:
        _clean(values)
    return values, names


def prediction_list(predictions: Any, class_names: Sequence[str] | None) -> tuple[list[Any] | None, Any]:
    """Return predictions as datarobot-mlops' list form (NaN kept) and the class names, from lists, arrays or frames."""
    if predictions is None:
        return None, class_names
    if isinstance(predictions, list):
        first = predictions[0] if predictions else None
        probe = first[0] if isinstance(first, list) and first else first
        if probe is not None and type(probe) not in (float, int, str, bool):
            # numpy scalars (np.float32, np.str_, ...) become plain Python values, as tolist() makes them.
            return np.asarray(predictions).tolist(), class_names
        # A copy, so the app may reuse its lists while the record waits in the buffer.
        if not isinstance(first, list):
            return list(predictions), class_names  # numbers or labels: a shallow copy is the whole copy
        return [p[:] if isinstance(p, list) else p for p in predictions], class_names
    if _is_frame(predictions):
        values = predictions.to_numpy().tolist()
        if len(predictions.columns) == 1 and class_names is None:
            return [row[0] for row in values], None
        return values, list(class_names) if class_names is not None else [str(c) for c in predictions.columns]
    if hasattr(predictions, "tolist"):
        return predictions.tolist(), class_names
    if isinstance(predictions, tuple):
        return [list(p) if isinstance(p, tuple) else p for p in predictions], class_names
    raise MLOpsInputError(f"predictions is a {type(predictions).__name__}",
                          fix="pass a list of predictions (numbers, labels, or one probability list per row)")


def normalize_association_ids(association_ids: Any) -> list[str] | None:
    """Return association ids as a list of strings."""
    if association_ids is None:
        return None
    values = association_ids.tolist() if hasattr(association_ids, "tolist") else association_ids
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise MLOpsInputError(
            f"association_ids is a {type(association_ids).__name__}", fix="pass a list with one id per row"
        )
    return [str(v) for v in values]
