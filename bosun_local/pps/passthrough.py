"""DataRobot's prediction query parameters and request bodies that carry columns the model does not take.

DataRobot's real-time API ignores input columns the model does not use and can echo any input column back
(`passthroughColumns=<name>` repeated, or `passthroughColumnsSet=all`). Parsing here keeps those columns' raw
values beside the feature Frame; the feature values themselves go through the same converters as `/predictions`,
so predictions are identical on every route.
"""
from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from bosun_local.pps.inputs import (
    Frame,
    InputError,
    Schema,
    load_json,
    name_list,
    open_csv,
    parse_records,
)

JSON_TYPES = ("application/json", "text/json")
CSV_TYPES = ("text/csv", "application/csv", "text/plain")
FORM_TYPES = ("", "application/x-www-form-urlencoded")
# Time-series parameters: accepted by DataRobot for time-series deployments only, which we do not serve.
TIME_SERIES_PARAMS = ("forecastPoint", "predictionsStartDate", "predictionsEndDate")
MAX_EXPLANATIONS_CAP = 100


@dataclass(frozen=True, slots=True)
class PredictOptions:
    """What a predictions request asks for beyond the predictions themselves."""

    passthrough: tuple[str, ...] = ()
    passthrough_all: bool = False
    max_explanations: int = 0
    threshold_high: float | None = None
    threshold_low: float | None = None

    @property
    def wants_passthrough(self) -> bool:
        return self.passthrough_all or bool(self.passthrough)


def _float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InputError(400, f"query parameter {name}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise InputError(400, f"query parameter {name}={value!r} is not a finite number")
    return number


def _max_explanations(value: str, algorithm: str | None) -> int:
    if value.lower() == "all":
        return MAX_EXPLANATIONS_CAP
    try:
        count = int(value)
    except ValueError:
        raise InputError(400, f"query parameter maxExplanations={value!r} must be a whole number or 'all'") from None
    if count < 0:
        raise InputError(400, f"query parameter maxExplanations={count} must be 0 (none) or more")
    if count == 0 and algorithm == "shap":  # DataRobot: with SHAP, 0 means every feature's contribution
        return MAX_EXPLANATIONS_CAP
    return min(count, MAX_EXPLANATIONS_CAP)


def parse_options(query: bytes) -> PredictOptions:
    """Read DataRobot's predictions query parameters; 400/422 for values we cannot honour (never ignored)."""
    if not query:
        return PredictOptions()
    try:
        pairs = parse_qsl(query.decode(), keep_blank_values=True, max_num_fields=1000)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(400, f"malformed query string: {exc}") from None
    single: dict[str, str] = {}
    passthrough: list[str] = []
    for key, value in pairs:
        if key == "passthroughColumns":
            passthrough.extend(v.strip() for v in value.split(",") if v.strip())
        else:
            single[key] = value
    for key in TIME_SERIES_PARAMS:
        if key in single:
            raise InputError(422, f"query parameter {key} is for time-series deployments; this deployment serves a "
                                  "non-time-series model: drop the parameter")
    column_set = single.get("passthroughColumnsSet")
    if column_set is not None and column_set != "all":
        raise InputError(422, f"passthroughColumnsSet={column_set!r}: the only value is 'all'")
    if column_set and passthrough:
        raise InputError(422, "give passthroughColumns or passthroughColumnsSet=all, not both")
    algorithm = single.get("explanationAlgorithm")
    if algorithm is not None and algorithm.lower() not in ("shap", "xemp"):
        raise InputError(422, f"explanationAlgorithm={algorithm!r}: use shap (or xemp, answered with the same "
                              "exact/SHAP contributions)")
    ngrams = single.get("maxNgramExplanations")
    if ngrams not in (None, "", "0"):
        raise InputError(422, "maxNgramExplanations: text (n-gram) explanations are not available; the models "
                              "served here explain numeric features only: drop the parameter or send 0")
    raw_max = single.get("maxExplanations")
    high, low = single.get("thresholdHigh"), single.get("thresholdLow")
    return PredictOptions(
        passthrough=tuple(dict.fromkeys(passthrough)),
        passthrough_all=column_set == "all",
        max_explanations=_max_explanations(raw_max, (algorithm or "").lower() or None) if raw_max else 0,
        threshold_high=_float("thresholdHigh", high) if high not in (None, "") else None,
        threshold_low=_float("thresholdLow", low) if low not in (None, "") else None,
    )


@dataclass(frozen=True, slots=True)
class Table:
    """Parsed request rows: the features to score and the raw values of the passthrough columns."""

    frame: Frame
    passthrough: dict[str, list[Any]] = field(default_factory=dict)


def _check_passthrough(wanted: tuple[str, ...], given: Collection[str]) -> None:
    missing = [c for c in wanted if c not in given]
    if missing:
        raise InputError(422, f"passthrough column(s) {name_list(missing)} are not in the request (it has: "
                              f"{name_list(list(given))})")


def _checked(given: list[str], schema: Schema, echo: list[str], lenient: bool) -> list[str]:
    """Return the columns to hold against the schema: extra ones are fine when lenient or passed through."""
    echoed = set(echo)
    return [c for c in given if c in schema.name_set or not (lenient or c in echoed)]


def _records_table(records: Any, schema: Schema, options: PredictOptions, lenient: bool) -> Table:
    if not isinstance(records, list):
        raise InputError(400, "JSON body must be a list of row objects or {\"data\": [row objects]}")
    if not all(isinstance(r, dict) for r in records):
        return Table(parse_records(records, schema))  # its 422 names the row that is not an object
    keys: dict[str, None] = {}
    for record in records:
        keys.update(dict.fromkeys(record))
    given = list(keys)
    _check_passthrough(options.passthrough, keys)
    echo = given if options.passthrough_all else list(options.passthrough)
    extra = [k for k in given if k not in schema.name_set]
    if extra:
        schema.check_columns(_checked(given, schema, echo, lenient), "rows:")
    features = records if not extra else [{k: r[k] for k in schema.names if k in r} for r in records]
    frame = parse_records(features, schema)
    return Table(frame, {c: [r.get(c) for r in records] for c in echo})


def _csv_table(body: bytes, schema: Schema, options: PredictOptions, lenient: bool) -> Table:
    table = open_csv(body, schema)
    _check_passthrough(options.passthrough, table.position)
    echo = table.header if options.passthrough_all else list(options.passthrough)
    schema.check_columns(_checked(table.header, schema, echo, lenient), "CSV header:")
    index = [table.position[name] for name in schema.names]
    echo_index = [(c, table.position[c]) for c in echo]
    rows: list[list[Any]] = []
    echoed: dict[str, list[Any]] = {c: [] for c in echo}
    for fields in table.rows():
        row = len(rows)
        rows.append([conv(fields[j], name, row) for j, (name, conv) in zip(index, schema.converters, strict=True)])
        for column, j in echo_index:
            echoed[column].append(fields[j])
    return Table(schema.matrix(rows), echoed)


def read_table(media_type: str, body: bytes, schema: Schema, options: PredictOptions, lenient: bool) -> Table:
    """Parse a predictions body (CSV or JSON); unknown columns are a 422 unless lenient or asked to pass through."""
    if media_type in JSON_TYPES or media_type.endswith("+json"):
        is_json = True
    elif media_type in CSV_TYPES:
        is_json = False
    elif media_type in FORM_TYPES:  # curl --data-binary without -H: decide by the first character
        is_json = body.lstrip()[:1] in (b"[", b"{")
    else:
        raise InputError(415, f"content type {media_type!r} is not supported; send text/csv (with a header row) or "
                              "application/json")
    if not is_json:
        return _csv_table(body, schema, options, lenient)
    doc = load_json(body)
    if isinstance(doc, dict):
        doc = doc["data"] if "data" in doc and isinstance(doc["data"], list) else [doc]
    return _records_table(doc, schema, options, lenient)
