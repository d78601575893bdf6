"""Property-based fuzzing of the parsers hostile input reaches first (issue 17): spool records, CSV/JSON bodies,
model.yaml. Each example answers with a value or the parser's own error, never another exception, within a deadline.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bosun_local.contracts import records
from bosun_local.errors import BosunError
from bosun_local.model_package import Feature, load_spec
from bosun_local.pps.inputs import InputError, Schema
from bosun_local.pps.passthrough import PredictOptions, read_table

FUZZ = settings(max_examples=100, deadline=1000, derandomize=True, suppress_health_check=list(HealthCheck))
SCHEMA = Schema([Feature("age"), Feature("bmi"), Feature("sex", "categorical")])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
FIELDS = st.sampled_from(["age", "bmi", "sex", "x", "", "age ", "\ufeffage", "a,b", 'q"'])


def _record(header: dict, data: object) -> str:
    return json.dumps({"header": header, "data": data if isinstance(data, str) else json.dumps(data)})


RECORD_TEXT = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    st.builds(lambda h, d: _record(h, d),
              st.fixed_dictionaries({"id": st.text(max_size=5), "deploymentId": st.text(max_size=5),
                                     "dataType": st.sampled_from(list(records.DATA_TYPES) + ["X", ""])}),
              st.dictionaries(st.sampled_from(["timestamp", "modelId", "numPredictions", "executionTime", "features",
                                               "predictions", "classNames", "actualsList", "associationIds",
                                               "actualValues", "numericAggregateMap", "categoricalAggregateMap",
                                               "predictionAggregateMap", "customMetricId", "buckets", "eventType",
                                               "message", "data"]), JSON_VALUES, max_size=8)),
    st.integers(min_value=1, max_value=3000).map(lambda n: '{"header": {}, "data": "' + "[" * n + '"}'),
)


@FUZZ
@given(RECORD_TEXT)
def test_spool_record_parser_answers_a_record_or_a_record_error(raw: str | bytes) -> None:
    try:
        record = records.parse(raw)
    except records.RecordError as exc:
        assert 0 < len(exc.reason) <= records.MAX_REASON_CHARS
        return
    assert record.data_type in records.DATA_TYPES and isinstance(record.rows, int)


CSV_BODIES = st.lists(st.lists(st.one_of(FIELDS, st.text(max_size=8), st.floats().map(str)), max_size=6),
                      max_size=6).map(lambda rows: "\n".join(",".join(r) for r in rows).encode())
JSON_BODIES = JSON_VALUES.map(lambda doc: json.dumps(doc).encode()) | st.binary(max_size=200)


@FUZZ
@given(st.one_of(CSV_BODIES.map(lambda b: ("text/csv", b)), JSON_BODIES.map(lambda b: ("application/json", b))),
       st.booleans())
def test_csv_and_json_bodies_parse_or_answer_a_4xx(kind_body: tuple[str, bytes], lenient: bool) -> None:
    media_type, body = kind_body
    try:
        table = read_table(media_type, body, SCHEMA, PredictOptions(passthrough_all=lenient), lenient)
    except InputError as exc:
        assert 400 <= exc.status < 500 and exc.message
        return
    assert table.frame.values.shape == (table.frame.rows, 3)


SPEC_TEXT = st.one_of(
    st.text(max_size=200),
    st.dictionaries(st.sampled_from(["targetName", "targetType", "features", "classNames", "modelFile", "name",
                                     "trainingData"]), JSON_VALUES, max_size=6).map(json.dumps),
    st.builds(lambda names, kind: json.dumps({"targetName": "y", "targetType": kind, "features": names}),
              st.lists(st.one_of(st.text(max_size=6), st.fixed_dictionaries({"name": st.text(max_size=6)})),
                       max_size=20),
              st.sampled_from(["regression", "binary", "multiclass", "nonsense"])),
)


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fuzz-package")
    (directory / "model.pkl").write_bytes(b"not loaded by load_spec")
    return directory


@FUZZ
@given(SPEC_TEXT)
def test_model_yaml_loads_or_answers_a_package_error(package_dir: Path, text: str) -> None:
    (package_dir / "model.yaml").write_text(text)
    try:
        spec = load_spec(package_dir)
    except BosunError as exc:
        assert exc.message and exc.fix
        return
    assert spec.target_type in ("regression", "binary", "multiclass", "unstructured")
