"""The datarobot-mlops spool record: build, encode, parse and validate the JSON wire format.

One record is one JSON object: ``{"header": {...}, "data": "<JSON string>"}``. The header says which
deployment and which kind of data; ``data`` is itself JSON text. Both our reporting library and the
public datarobot-mlops library (JSON data format) write exactly this shape; the reporting library serializes
it with orjson, as datarobot-mlops does, so the bytes are the same too.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard

from bosun_local import __version__
from bosun_local.contracts.record_bounds import (
    MAX_DEPTH,
    MAX_RECORD_BYTES,
    count_problem,
    plausible_library_time,
    short,
    time_problem,
    too_deep,
)
from bosun_local.contracts.record_ids import new_record_id as new_record_id  # records.new_record_id: the API
from bosun_local.contracts.record_ids import new_record_ids as new_record_ids

DEPLOYMENT_STATS = "DEPLOYMENT_STATS"
PREDICTIONS_DATA = "PREDICTIONS_DATA"
ACTUALS_DATA = "ACTUALS_DATA"  # datarobot-mlops' report_actuals: {"actualsList": [...], "modelId"?, "batchId"?}
PREDICTION_STATS = "PREDICTION_STATS"  # client-side aggregates of report_aggregated_predictions_data
CUSTOM_METRIC = "CUSTOM_METRIC"
EVENT = "EVENT"
PING_MSG = "PING_MSG"
# bosun-local's packed DEPLOYMENT_STATS: a batch of requests as columns (shape: contracts/packed_stats.py).
DEPLOYMENT_STATS_PACKED = "DEPLOYMENT_STATS_PACKED"
# Our earlier actuals record (column lists); still read so old spools drain.
ACTUALS = "ACTUALS"
# In datarobot-mlops' DataType enum but written by none of its current report_* calls.
LEGACY_DATA_TYPES = ("FEATURE_DRIFT", "TARGET_DRIFT", "FEATURE_DATA", "PREDICTIONS_STATS_SC_CLASSIFICATION",
                     "PREDICTIONS_STATS_SC_REGRESSION")
DATA_TYPES = (DEPLOYMENT_STATS, PREDICTIONS_DATA, ACTUALS_DATA, PREDICTION_STATS, CUSTOM_METRIC, EVENT, PING_MSG,
              DEPLOYMENT_STATS_PACKED, ACTUALS, *LEGACY_DATA_TYPES)
# Types whose data carries no timestamp of its own.
_UNTIMED = (ACTUALS_DATA, CUSTOM_METRIC)

HEADER_VERSION = 2
LANGUAGE = "python"
LIB_VERSION = f"bosun-local-{__version__}"

_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
MAX_REASON_CHARS = 1000


class RecordError(ValueError):
    """A spool record cannot be parsed or fails validation; ``reason`` says which field and why."""

    def __init__(self, reason: str) -> None:
        if len(reason) > MAX_REASON_CHARS:  # a reason quotes values: a hostile one must not make it huge
            reason = reason[: MAX_REASON_CHARS - 3] + "..."
        super().__init__(reason)
        self.reason = reason


def format_timestamp(moment: datetime | None = None) -> str:
    """Return a UTC timestamp in the library's format, e.g. ``2026-11-21 19:43:07.883+0000``."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime(_TIMESTAMP_FORMAT)[:-3] + "+0000"


def parse_timestamp(text: str) -> datetime:
    """Return the aware UTC datetime of a record timestamp (library format or ISO 8601)."""
    if not isinstance(text, str) or not text or len(text) > 64:
        raise RecordError(f"timestamp must be a time like '2026-11-21 19:43:07.883+0000', got {short(text)}")
    candidate = text.strip().replace(" ", "T", 1)
    if candidate.endswith("Z"):
        candidate = candidate[:-1] + "+00:00"
    elif len(candidate) > 5 and candidate[-5] in "+-" and candidate[-4:].isdigit():
        candidate = f"{candidate[:-2]}:{candidate[-2:]}"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError as exc:
        raise RecordError(f"timestamp {text!r} is not like '2026-11-21 19:43:07.883+0000'") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    problem = time_problem(moment)
    if problem:
        raise RecordError(f"timestamp {text!r} {problem}")
    return moment


@dataclass(slots=True)
class Record:
    """One parsed spool record: header fields plus the decoded ``data`` object."""

    id: str
    deployment_id: str | None
    data_type: str
    data: dict[str, Any]
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def model_id(self) -> str | None:
        """Return the model id the record reports about."""
        return self.data.get("modelId")

    @property
    def timestamp(self) -> datetime:
        """Return the record's timestamp as an aware UTC datetime (now for types without one)."""
        text = self.data.get("timestamp")
        return parse_timestamp(text) if text else datetime.now(UTC)

    @property
    def rows(self) -> int:
        """Return the number of rows (predictions or actuals) the record carries."""
        if self.data_type == DEPLOYMENT_STATS:
            return int(self.data["numPredictions"])
        if self.data_type == DEPLOYMENT_STATS_PACKED:
            return sum(self.data["numPredictions"])
        if self.data_type == ACTUALS:
            return len(self.data["associationIds"])
        if self.data_type == ACTUALS_DATA:
            return len(self.data["actualsList"])
        if self.data_type == PREDICTION_STATS:
            return stats_rows(self.data)
        if self.data_type == PREDICTIONS_DATA:
            return _prediction_rows(self.data)
        return 0

    def to_json(self) -> str:
        """Return the record's wire text (one line, no newline)."""
        return encode(self.id, self.deployment_id, self.data_type, self.data, self.header)


def json_default(value: Any) -> Any:
    """Encode numpy scalars, arrays, Decimals and datetimes that reach json.dumps."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "as_tuple"):  # Decimal
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"value {value!r} of type {type(value).__name__} is not JSON serializable")


def make_header(record_id: str, deployment_id: str | None, data_type: str,
           extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a record's header, fields in the order datarobot-mlops writes them."""
    head = {
        "id": record_id,
        "deploymentId": deployment_id,
        "dataType": data_type,
        "dataFormat": "json",
        "dataLen": None,
        "version": HEADER_VERSION,
        "language": LANGUAGE,
        "libVersion": LIB_VERSION,
        "reserved": "",
    }
    if extra:
        head.update({k: v for k, v in extra.items() if k not in ("id", "deploymentId", "dataType")})
    return head


def encode(
    record_id: str,
    deployment_id: str | None,
    data_type: str,
    data: dict[str, Any],
    header: dict[str, Any] | None = None,
) -> str:
    """Return the wire text of one record; ``data`` is encoded to its JSON string here."""
    data_text = json.dumps(data, separators=(",", ":"), default=json_default, allow_nan=False)
    head = make_header(record_id, deployment_id, data_type, header)
    return json.dumps({"header": head, "data": data_text}, separators=(",", ":"))


def deployment_stats_data(
    model_id: str,
    num_predictions: int,
    execution_time_ms: float,
    user_error: bool = False,
    system_error: bool = False,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """Return the ``data`` object of a DEPLOYMENT_STATS record."""
    return {
        "timestamp": timestamp or format_timestamp(),
        "modelId": model_id,
        "numPredictions": num_predictions,
        "executionTime": execution_time_ms,
        "userError": user_error,
        "systemError": system_error,
    }


def parse(raw: bytes | str, loads: Callable[[bytes | str], Any] = json.loads) -> Record:
    """Parse and validate one record's wire text; raise RecordError (never anything else) naming the bad field.

    ``loads`` decodes JSON (json.loads; the agent's readers pass a faster one, contracts stay standard library).
    """
    if len(raw) > MAX_RECORD_BYTES:
        raise RecordError(f"record of {len(raw)} bytes is over the limit of {MAX_RECORD_BYTES} bytes: report fewer "
                          "rows per call")
    try:
        return _parse(raw, loads)
    except RecordError:
        raise
    except RecursionError:  # json's C decoder stops at the interpreter's recursion limit
        raise RecordError(f"record nests deeper than {MAX_DEPTH} levels") from None
    except Exception as exc:  # one record must never take its batch (and the agent) down with it
        raise RecordError(f"cannot read the record: {type(exc).__name__}: {short(str(exc), 200)}") from exc


def _decode(text: bytes | str, what: str, not_json: str, loads: Callable[[bytes | str], Any] = json.loads) -> Any:
    """Return decoded JSON; RecordError when it is not JSON or nests deeper than MAX_DEPTH."""
    try:
        doc = loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError(f"{not_json}: {short(str(exc), 200)}") from exc
    if too_deep(text if isinstance(text, str) else text.decode("utf-8", "replace"), doc):
        raise RecordError(f"{what} nests deeper than {MAX_DEPTH} levels")
    return doc


def _parse(raw: bytes | str, loads: Callable[[bytes | str], Any]) -> Record:
    outer = _decode(raw, "record", "not JSON", loads)
    if not isinstance(outer, dict):
        raise RecordError(f"record must be a JSON object, got {type(outer).__name__}")
    header = outer.get("header")
    if not isinstance(header, dict):
        raise RecordError("record has no 'header' object")
    record_id = _required_str(header, "id", "header")
    # Pings are addressed to the agent, not to a deployment: datarobot-mlops writes deploymentId null.
    deployment_id = header.get("deploymentId") if header.get("dataType") == PING_MSG else _required_str(
        header, "deploymentId", "header")
    data_type = _required_str(header, "dataType", "header")
    if data_type not in DATA_TYPES:
        raise RecordError(f"header.dataType {short(data_type)} is not supported (expected one of "
                          f"{', '.join(DATA_TYPES)})")
    data_format = header.get("dataFormat", "json")
    if not isinstance(data_format, str) or data_format.lower() != "json":
        raise RecordError(
            f"header.dataFormat {short(data_format)} is not supported: "
            "set MLOPS_SPOOLER_DATA_FORMAT=JSON in the reporting app"
        )
    raw_data = outer.get("data")
    if isinstance(raw_data, str):
        data = _decode(raw_data, "'data'", "'data' is not a JSON string", loads)
    elif isinstance(raw_data, dict):
        data = raw_data
    else:
        raise RecordError("record has no 'data' JSON string")
    if not isinstance(data, dict):
        raise RecordError(f"'data' must decode to a JSON object, got {type(data).__name__}")
    validate_data(data_type, data)
    return Record(record_id, deployment_id, data_type, data, header)


def validate_data(data_type: str, data: dict[str, Any]) -> None:
    """Check the fields of a record's ``data`` for its data type; raise RecordError on the first problem."""
    if data_type not in _UNTIMED:
        stamp = data.get("timestamp")
        # The library's form is checked by its minute; anything else (or a minute near a bound) is parsed.
        if not (isinstance(stamp, str) and plausible_library_time(stamp)):
            parse_timestamp(stamp)  # type: ignore[arg-type]
    model_id = data.get("modelId")
    if model_id is not None and not isinstance(model_id, str):
        raise RecordError(f"data.modelId must be a string, got {short(model_id)}")
    if data_type == DEPLOYMENT_STATS:
        _check_stats(data)
    elif data_type == PREDICTIONS_DATA:
        _prediction_rows(data)
    elif data_type == ACTUALS:
        _check_actuals(data)
    else:
        from bosun_local.contracts.record_types import check

        check(data_type, data)


def stats_rows(data: dict[str, Any]) -> int:
    """Return the rows a PREDICTION_STATS object aggregates (predictions counted, else the largest feature)."""
    from bosun_local.contracts.record_types import stats_rows as rows

    return rows(data)


def _required_str(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise RecordError(f"{where}.{key} must be a non-empty string, got {short(value)}")
    return value


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_stats(data: dict[str, Any]) -> None:
    problem = count_problem(data.get("numPredictions"))
    if problem:
        raise RecordError(f"data.numPredictions {problem}")
    elapsed = data.get("executionTime")
    if not _is_number(elapsed) or not math.isfinite(elapsed) or elapsed < 0:
        raise RecordError(f"data.executionTime must be a number of ms >= 0, got {short(elapsed)}")
    for key in ("userError", "systemError"):
        if not isinstance(data.get(key, False), bool):
            raise RecordError(f"data.{key} must be true or false, got {data.get(key)!r}")


def _column_length(values: Any, where: str) -> int:
    if not isinstance(values, list):
        raise RecordError(f"{where} must be a list, got {type(values).__name__}")
    return len(values)


def _prediction_rows(data: dict[str, Any]) -> int:
    """Validate a PREDICTIONS_DATA object and return its row count."""
    lengths: dict[str, int] = {}
    features = data.get("features")
    if features is not None:
        if not isinstance(features, dict):
            raise RecordError("data.features must be an object of column -> list of values")
        for name, column in features.items():
            lengths[f"data.features.{name}"] = _column_length(column, f"data.features.{name}")
    predictions = data.get("predictions")
    class_names = data.get("classNames")
    if predictions is not None:
        lengths["data.predictions"] = _column_length(predictions, "data.predictions")
        _check_predictions(predictions, class_names)
    association_ids = data.get("associationIds")
    if association_ids is not None:
        lengths["data.associationIds"] = _column_length(association_ids, "data.associationIds")
    if not lengths:
        raise RecordError("PREDICTIONS_DATA record has neither data.features nor data.predictions")
    distinct = set(lengths.values())
    if len(distinct) > 1:
        detail = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise RecordError(f"PREDICTIONS_DATA columns differ in length: {detail}")
    return distinct.pop()


def _check_predictions(predictions: list[Any], class_names: Any) -> None:
    if class_names is not None and (
        not isinstance(class_names, list) or not all(isinstance(c, str) for c in class_names)
    ):
        raise RecordError(f"data.classNames must be a list of strings, got {short(class_names)}")
    width = len(class_names) if class_names is not None else (
        len(predictions[0]) if predictions and isinstance(predictions[0], list) else 0)
    for i, value in enumerate(predictions):
        if isinstance(value, list):
            # datarobot-mlops leaves classNames out when the app gave none: columns are then the classes in order.
            if len(value) != width or not all(_is_number(p) or p is None for p in value):
                raise RecordError(
                    f"data.predictions[{i}] must be {width} probabilities (one per class), got {short(value)}"
                )
        elif not (_is_number(value) or isinstance(value, str) or value is None):
            raise RecordError(f"data.predictions[{i}] must be a number, a label or a probability list, got "
                              f"{short(value)}")


def _check_actuals(data: dict[str, Any]) -> None:
    ids: Any = data.get("associationIds")
    values: Any = data.get("actualValues")
    n = _column_length(ids, "data.associationIds")
    if _column_length(values, "data.actualValues") != n:
        raise RecordError(f"data.actualValues has {len(values)} values for {n} association ids")
    if not all(isinstance(a, str) and a for a in ids):
        raise RecordError("data.associationIds must be non-empty strings")
    acted = data.get("wasActedOn")
    if acted is not None and (_column_length(acted, "data.wasActedOn") != n):
        raise RecordError(f"data.wasActedOn has {len(acted)} values for {n} association ids")
