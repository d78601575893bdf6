"""Render scored rows as the response bodies of each route (JSON, CSV, form, V2)."""
from __future__ import annotations

import csv
import io
import math
from typing import Any

import orjson

from bosun_local.pps.model import LoadedModel, Scored


def _clean(value: Any) -> Any:
    """Return JSON-safe scalars: NaN/inf become null so the body stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(doc: Any) -> bytes:
    """Encode a response document compactly (orjson: shortest round-trip floats, NaN as null)."""
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def predictions_json(model: LoadedModel, scored: Scored) -> bytes:
    """Return `{"data": [{rowId, prediction, predictionValues}]}`."""
    rows: list[dict[str, Any]] = []
    if scored.probabilities is None:
        target = model.spec.target_name
        for i, value in enumerate(scored.predictions):
            value = _clean(value)
            rows.append({"rowId": i, "prediction": value, "predictionValues": [{"label": target, "value": value}]})
    else:
        names = model.class_names
        for i, (label, probs) in enumerate(zip(scored.predictions, scored.probabilities.tolist(), strict=True)):
            values = [{"label": n, "value": _clean(p)} for n, p in zip(names, probs, strict=True)]
            rows.append({"rowId": i, "prediction": label, "predictionValues": values})
    return dumps({"data": rows})


def predictions_csv(model: LoadedModel, scored: Scored) -> bytes:
    """Return CSV: rowId, prediction and, for classifiers, `<target>_<class>_PREDICTION` probability columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["rowId", "prediction"]
    if scored.probabilities is None:
        writer.writerow(header)
        writer.writerows([i, "" if _clean(v) is None else v] for i, v in enumerate(scored.predictions))
    else:
        target = model.spec.target_name
        writer.writerow(header + [f"{target}_{n}_PREDICTION" for n in model.class_names])
        for i, (label, probs) in enumerate(zip(scored.predictions, scored.probabilities.tolist(), strict=True)):
            writer.writerow([i, label, *probs])
    return out.getvalue().encode()


def form_json(model: LoadedModel, scored: Scored) -> bytes:
    """Return the workshop app's answer for one row: `{"prediction": ...}` (+ class probabilities)."""
    if scored.probabilities is None:
        return dumps({"prediction": _clean(scored.predictions[0])})
    probs = scored.probabilities[0].tolist()
    values = [{"label": n, "value": _clean(p)} for n, p in zip(model.class_names, probs, strict=True)]
    return dumps({"prediction": scored.predictions[0], "predictionValues": values})

