"""Answer bodies with passthrough columns and explanations: DataRobot's real-time shapes, and ours extended.

DataRobot's CSV columns follow its documented output format (shared by real-time and batch predictions):
`<target>_PREDICTION` for regression; `<target>_<class>_PREDICTION` per class (positive class first for binary),
`<target>_PREDICTION`, and for binary `THRESHOLD` and `POSITIVE_CLASS`; then `EXPLANATION_<n>_FEATURE_NAME`,
`_STRENGTH`, `_ACTUAL_VALUE`, `_QUALITATIVE_STRENGTH`. Passthrough columns come first, under their own names.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import orjson

from bosun_local.pps import outputs
from bosun_local.pps.explanations import Explanation
from bosun_local.pps.model import LoadedModel, Scored

Explained = Sequence[list[Explanation] | None] | None
BINARY_THRESHOLD = 0.5  # predict_proba's argmax for two classes; DataRobot reports the threshold it applied


def _dumps(doc: Any) -> bytes:
    """Encode compactly; orjson (NaN/inf become null), as the explanation rows make big documents."""
    return orjson.dumps(doc)


def _explanation_docs(items: list[Explanation] | None, label: Any) -> list[dict[str, Any]]:
    return [{"label": label, "feature": e.feature, "featureValue": e.value, "strength": e.strength,
             "qualitativeStrength": e.qualitative} for e in items or []]


def _label(model: LoadedModel, scored: Scored, row: int) -> Any:
    """Return the label explanations are about: the target (regression), positive class or predicted class."""
    if scored.probabilities is None:
        return model.spec.target_name
    names = model.class_names
    return names[1] if len(names) == 2 else scored.predictions[row]


def _base_rows(model: LoadedModel, scored: Scored) -> list[dict[str, Any]]:
    """Return the rows `/predictions` answers: rowId, prediction, predictionValues."""
    if scored.probabilities is None:
        target = model.spec.target_name
        return [{"rowId": i, "prediction": v, "predictionValues": [{"label": target, "value": v}]}
                for i, v in enumerate(scored.predictions)]
    names = model.class_names
    return [{"rowId": i, "prediction": label,
             "predictionValues": [{"label": n, "value": p} for n, p in zip(names, probs, strict=True)]}
            for i, (label, probs) in enumerate(zip(scored.predictions, scored.probabilities.tolist(), strict=True))]


def _rows(model: LoadedModel, scored: Scored, passthrough: dict[str, list[Any]], explained: Explained,
          predapi: bool) -> list[dict[str, Any]]:
    doc = _base_rows(model, scored)
    binary = scored.probabilities is not None and len(model.class_names) == 2
    for i, row in enumerate(doc):
        if predapi and binary:
            row["predictionThreshold"] = BINARY_THRESHOLD
        if passthrough:
            row["passthroughValues"] = {c: values[i] for c, values in passthrough.items()}
        if explained is not None:
            row["predictionExplanations"] = _explanation_docs(explained[i], _label(model, scored, i))
    return doc


def predictions_json(model: LoadedModel, scored: Scored, passthrough: dict[str, list[Any]],
                     explained: Explained) -> bytes:
    """Return `/predictions`' JSON: unchanged bytes without options, else with passthrough/explanations added."""
    if not passthrough and explained is None:
        return outputs.predictions_json(model, scored)
    return _dumps({"data": _rows(model, scored, passthrough, explained, predapi=False)})


def dr_json(model: LoadedModel, scored: Scored, passthrough: dict[str, list[Any]], explained: Explained) -> bytes:
    """Return DataRobot's real-time JSON: `{"data": [{rowId, prediction, predictionValues, ...}]}`."""
    return _dumps({"data": _rows(model, scored, passthrough, explained, predapi=True)})


def _explanation_width(explained: Explained) -> int:
    return max((len(e) for e in explained or [] if e), default=0)


def _explanation_header(width: int) -> list[str]:
    return [f"EXPLANATION_{n}_{part}" for n in range(1, width + 1)
            for part in ("FEATURE_NAME", "STRENGTH", "ACTUAL_VALUE", "QUALITATIVE_STRENGTH")]


def _explanation_cells(items: list[Explanation] | None, width: int) -> list[Any]:
    cells: list[Any] = []
    for e in (items or [])[:width]:
        cells.extend([e.feature, _blank(e.strength), _blank(e.value), e.qualitative])
    return cells + [""] * (4 * width - len(cells))


def _blank(value: Any) -> Any:
    value = outputs._clean(value)
    return "" if value is None else value


def _write(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def predictions_csv(model: LoadedModel, scored: Scored, passthrough: dict[str, list[Any]],
                    explained: Explained) -> bytes:
    """Return `/predictions`' CSV: its own columns, then passthrough and explanation columns when asked for."""
    base = outputs.predictions_csv(model, scored)
    if not passthrough and explained is None:
        return base
    lines = list(csv.reader(io.StringIO(base.decode())))
    width = _explanation_width(explained)
    header = lines[0] + list(passthrough) + _explanation_header(width)
    rows = []
    for i, line in enumerate(lines[1:]):
        rows.append(line + [_blank(values[i]) for values in passthrough.values()]
                    + (_explanation_cells(explained[i], width) if explained is not None else []))
    return _write(header, rows)


def dr_csv(model: LoadedModel, scored: Scored, passthrough: dict[str, list[Any]], explained: Explained) -> bytes:
    """Return DataRobot's real-time CSV (its documented output format columns)."""
    target = model.spec.target_name
    names = list(model.class_names)
    binary = scored.probabilities is not None and len(names) == 2
    order = [1, 0] if binary else list(range(len(names)))  # DataRobot lists the positive class first
    header = list(passthrough)
    if scored.probabilities is None:
        header.append(f"{target}_PREDICTION")
    else:
        header += [f"{target}_{names[j]}_PREDICTION" for j in order] + [f"{target}_PREDICTION"]
        if binary:
            header += ["THRESHOLD", "POSITIVE_CLASS"]
    width = _explanation_width(explained)
    header += _explanation_header(width)
    rows: list[list[Any]] = []
    probabilities = None if scored.probabilities is None else scored.probabilities.tolist()
    for i, prediction in enumerate(scored.predictions):
        row = [_blank(values[i]) for values in passthrough.values()]
        if probabilities is None:
            row.append(_blank(prediction))
        else:
            row += [probabilities[i][j] for j in order] + [prediction]
            if binary:
                row += [BINARY_THRESHOLD, names[1]]
        if explained is not None:
            row += _explanation_cells(explained[i], width)
        rows.append(row)
    return _write(header, rows)
