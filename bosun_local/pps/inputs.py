"""Parse request bodies (CSV, JSON records, form fields, V2 tensors) into a feature matrix in model order."""
from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from bosun_local.model_package import Feature

NAN = float("nan")
# A CSV header may carry columns the model does not take (DataRobot's routes ignore or echo them), but not
# without end: past this many columns (or twice the model's width, when that is more) it is refused early.
MAX_CSV_COLUMNS = 10_000
# Error messages list at most this many column names, so a hostile header cannot make a huge answer.
MAX_NAMES_IN_MESSAGE = 20
# json.loads gives up (RecursionError) near the interpreter's recursion limit; rows need 3 levels at most.
MAX_JSON_DEPTH = sys.getrecursionlimit()


class InputError(Exception):
    """A request the client must fix; carries the HTTP status and a message naming the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _number(value: Any, column: str, row: int) -> float:
    """Return a numeric cell as float: None or "" is a missing value (NaN), anything else must be a finite number."""
    if value is None or value == "":
        return NAN
    if isinstance(value, bool):
        raise InputError(422, f"column {column!r} row {row}: expected a number, got {json.dumps(value)}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise InputError(422, f"column {column!r} row {row}: {value!r} is not a number") from None
    else:
        raise InputError(422, f"column {column!r} row {row}: expected a number, got {type(value).__name__}")
    if not math.isfinite(number):
        raise InputError(422, f"column {column!r} row {row}: {value!r} is not a finite number")
    return number


def _text(value: Any, column: str, row: int) -> str | None:
    """Return a categorical/text cell as str, None when missing."""
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        raise InputError(422, f"column {column!r} row {row}: expected a single value, got a {type(value).__name__}")
    return value if isinstance(value, str) else str(value)


def name_list(names: Sequence[str], limit: int = MAX_NAMES_IN_MESSAGE) -> str:
    """Return names joined by commas, the first `limit` of them and a count of the rest."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


class Schema:
    """The model's input columns in the order the model takes them."""

    def __init__(self, features: Sequence[Feature]) -> None:
        self.features = tuple(features)
        self.names = [f.name for f in self.features]
        self.name_set = frozenset(self.names)
        self.numeric = all(f.type == "numeric" for f in self.features)
        convs: list[Callable[[Any, str, int], Any]] = [_number if f.type == "numeric" else _text for f in self.features]
        self.converters = list(zip(self.names, convs, strict=True))

    def check_columns(self, given: Iterable[str], where: str) -> None:
        """Raise a 422 naming the missing and the unknown columns."""
        given_set = set(given)
        missing = [n for n in self.names if n not in given_set]
        extra = sorted(given_set - self.name_set)
        problems = []
        if missing:
            problems.append(f"missing column(s): {name_list(missing)}")
        if extra:
            problems.append(f"unknown column(s): {name_list(extra)}")
        if problems:
            raise InputError(422, f"{where} {'; '.join(problems)} (the model takes: {name_list(self.names)})")

    def matrix(self, rows: list[list[Any]]) -> Frame:
        """Return converted rows as a Frame (float64 when every column is numeric)."""
        if not rows:
            raise InputError(422, "the request has no rows to score")
        if self.numeric:
            return Frame(self.names, np.array(rows, dtype=np.float64), True)
        values = np.empty((len(rows), len(self.names)), dtype=object)
        values[:] = rows
        return Frame(self.names, values, False)


@dataclass(frozen=True, slots=True)
class Frame:
    """Rows to score: columns in model order and an (n, k) matrix."""

    columns: list[str]
    values: np.ndarray
    numeric: bool
    source: Any = None  # what a custom model's read_input_data() (or pandas) made of the body: the model gets it

    @property
    def rows(self) -> int:
        return int(self.values.shape[0])

    def to_dataframe(self) -> Any:
        """Return a pandas DataFrame, numeric columns as float (a copy of the source, when there is one)."""
        import pandas as pd

        if self.source is not None:
            return self.source.copy() if hasattr(self.source, "copy") else self.source

        frame = pd.DataFrame(self.values, columns=self.columns)
        if not self.numeric:
            return frame.infer_objects()  # numeric columns of a mixed matrix become float64 again
        return frame.astype(np.float64)


def parse_records(records: Any, schema: Schema) -> Frame:
    """Convert a list of JSON objects (one per row) into a Frame."""
    if not isinstance(records, list):
        raise InputError(400, "JSON body must be a list of row objects or {\"data\": [row objects]}")
    rows: list[list[Any]] = []
    name_set = schema.name_set
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputError(422, f"row {i} is a {type(record).__name__}, expected an object of column: value")
        if record.keys() != name_set:
            schema.check_columns(record.keys(), f"row {i}:")
        rows.append([conv(record[name], name, i) for name, conv in schema.converters])
    return schema.matrix(rows)


_LONG_DIGITS = re.compile(rb"[0-9]{19}")


def load_json(body: bytes) -> Any:
    """Decode a JSON body; a 400 names the line and column of a syntax error."""
    if not body.strip():
        raise InputError(400, "the request body is empty; send JSON rows or CSV with a header row")
    # orjson is ~3x faster; it reads integers past 64 bits as floats (an id of 20 digits would change), so a
    # body with such a run of digits, and anything orjson refuses, takes the standard library's exact path.
    if _LONG_DIGITS.search(body) is None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise InputError(400, "the JSON body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise InputError(400, f"the body is not valid JSON: {exc.msg} at {where}") from None
    except RecursionError:  # the C decoder stops at the interpreter's recursion limit instead of crashing
        raise InputError(400, f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels; send flat rows of "
                              "column: value") from None
    except ValueError as exc:  # e.g. an integer of more digits than int() converts (sys.get_int_max_str_digits)
        raise InputError(400, f"the body is not valid JSON: {exc}") from None


def parse_json(body: bytes, schema: Schema) -> Frame:
    """Parse `[{col: value}, ...]`, `{"data": [...]}` or a single row object."""
    doc = load_json(body)
    if isinstance(doc, dict):
        doc = doc["data"] if "data" in doc and isinstance(doc["data"], list) else [doc]
    return parse_records(doc, schema)


@dataclass(slots=True)
class CsvBody:
    """A CSV body opened past its header: the header, each name's position, and a reader for the rows."""

    header: list[str]
    position: dict[str, int]
    reader: Any  # a csv reader: its line_num says where a bad row is

    def rows(self) -> Iterator[list[str]]:
        """Yield the non-empty rows; 400 for a row of the wrong width or malformed CSV."""
        width = len(self.header)
        try:
            for fields in self.reader:
                if not fields:
                    continue
                if len(fields) != width:
                    raise InputError(400, f"CSV line {self.reader.line_num} has {len(fields)} fields, the header "
                                          f"has {width}")
                yield fields
        except csv.Error as exc:
            raise InputError(400, f"malformed CSV at line {self.reader.line_num}: {exc}") from None


def open_csv(body: bytes, schema: Schema) -> CsvBody:
    """Decode a CSV body and check its header: bounded width, no name twice (checked in linear time)."""
    if not body.strip():
        raise InputError(400, "the request body is empty; send CSV with a header row or JSON rows")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(400, f"the CSV body is not UTF-8 text (bad byte at offset {exc.start})") from None
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        raise InputError(400, f"malformed CSV at line 1: {exc}") from None
    limit = max(MAX_CSV_COLUMNS, 2 * len(schema.names))
    if len(header) > limit:
        raise InputError(422, f"the CSV header has {len(header)} columns, over the limit of {limit} (the model takes "
                              f"{len(schema.names)}); send only the model's columns and those to pass through")
    position = {name: j for j, name in enumerate(header)}
    if len(position) != len(header):  # a Counter, not header.count() per name: linear in the header's width
        duplicated = sorted(h for h, n in Counter(header).items() if n > 1)
        raise InputError(422, f"CSV header names column(s) twice: {name_list(duplicated)}")
    return CsvBody(header, position, reader)


def parse_csv(body: bytes, schema: Schema) -> Frame:
    """Parse CSV with a header row; columns may come in any order."""
    table = open_csv(body, schema)
    schema.check_columns(table.header, "CSV header:")
    index = [table.position[name] for name in schema.names]
    rows: list[list[Any]] = []
    for fields in table.rows():
        row = len(rows)
        rows.append([conv(fields[j], name, row) for j, (name, conv) in zip(index, schema.converters, strict=True)])
    return schema.matrix(rows)


def parse_form(pairs: Sequence[tuple[str, str]], schema: Schema) -> Frame:
    """Parse one row from form fields (body or query string)."""
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise InputError(422, f"form field {key!r} is given twice; give each field once")
        fields[key] = value
    if not fields:
        raise InputError(400, f"no form fields given; send them as the body or query, e.g. "
                              f"{'&'.join(f'{n}=...' for n in schema.names[:3])}")
    if fields.keys() != schema.name_set:
        schema.check_columns(fields.keys(), "form:")
    return schema.matrix([[conv(fields[name], name, 0) for name, conv in schema.converters]])
