"""bosun_local.mlops against the real datarobot-mlops: the same public surface, the same records byte for byte."""
from __future__ import annotations

import inspect
import json
import random
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import bosun_local.mlops as ours
from bosun_local.mlops import histogram
from bosun_local.mlops.mlops import MLOps
from tests.mlops.reference import normalized, publish_everything, reference, spool_lines


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in inspect.getmembers(cls)
            if not name.startswith("_") and callable(member)}


def test_every_public_method_exists_with_the_same_signature() -> None:
    ref_mlops, _ = reference()
    theirs, mine = _public(ref_mlops.MLOps), _public(MLOps)
    missing = sorted(set(theirs) - set(mine))
    assert not missing, f"bosun_local.mlops.MLOps lacks {missing}"
    different = {name: (str(sig), str(mine[name])) for name, sig in theirs.items()
                 if not _accepts_every_call(sig, mine[name])}
    assert not different, f"signatures differ (theirs, ours): {json.dumps(different, indent=1)}"
    assert len(theirs) >= 39


def _accepts_every_call(theirs: inspect.Signature, mine: inspect.Signature) -> bool:
    """Same parameters in the same order, kinds and defaults; ours may add keyword-only ones with defaults."""
    a, b = list(theirs.parameters.values()), list(mine.parameters.values())
    if [(p.name, p.kind) for p in a] != [(p.name, p.kind) for p in b[:len(a)]]:
        return False
    if any(p.default is not inspect.Parameter.empty and p.default != q.default for p, q in zip(a, b, strict=False)):
        return False
    return all(p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty
               for p in b[len(a):])


def test_event_types_and_exception_names_match() -> None:
    _, ref_event = reference()
    assert {e.name: e.value for e in ref_event.EventType} == {e.name: e.value for e in ours.EventType}
    from datarobot_mlops.common import exception as ref_exc

    for name in ("DRApiException", "DRAlreadyInitialized", "DRCommonException", "DRUnsupportedType",
                 "DRConfigKeyNotFound", "DRInvalidValue", "DRSpoolerException"):
        assert hasattr(ref_exc, name) and issubclass(getattr(ours, name), ours.DRCommonException)


def test_same_calls_write_the_same_records(tmp_path: Path) -> None:
    ref_mlops, ref_event = reference()
    theirs, mine = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir()
    mine.mkdir()
    publish_everything(ref_mlops.MLOps, ref_event, filesystem=(str(theirs),))
    publish_everything(MLOps, ours, filesystem=(str(mine),))
    a, b = spool_lines(theirs), spool_lines(mine)
    assert [json.loads(x)["header"]["dataType"] for x in a] == [json.loads(x)["header"]["dataType"] for x in b]
    assert {json.loads(x)["header"]["dataType"] for x in a} >= {
        "DEPLOYMENT_STATS", "PREDICTIONS_DATA", "PREDICTION_STATS", "ACTUALS_DATA", "CUSTOM_METRIC", "EVENT",
        "PING_MSG"}
    for line_a, line_b in zip(a, b, strict=True):
        assert normalized(line_a) == normalized(line_b)
        # Outside the blanked fields the envelope is byte-identical too.
        assert json.loads(line_a)["header"].keys() == json.loads(line_b)["header"].keys()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.integers(1, 40), st.sampled_from([0.001, 1.0, 1e6]))
def test_centroid_histogram_matches_the_reference(seed: int, n: int, size: int, scale: float) -> None:
    from drfaster import centroid_histogram as ref

    # Real-valued samples: two gaps are then never exactly equal, the one case the two builds resolve differently.
    values = (np.random.default_rng(seed).standard_normal(n) * scale).tolist()
    fast, histogram._FAST = histogram._FAST, None  # the pure-Python path, compared to DataRobot's C++ one
    try:
        mine = histogram.from_values(values, size)
    finally:
        histogram._FAST = fast
    assert mine == [(b.centroid, b.count) for b in ref.histogram_from_values(size, values).buckets]
    assert sum(n for _, n in mine) == len(values) and len(mine) <= size


def test_centroid_histogram_merge_matches_the_reference() -> None:
    from drfaster import centroid_histogram as ref

    rng = random.Random(7)
    fast, histogram._FAST = histogram._FAST, None
    try:
        for _ in range(200):
            buckets = [(rng.gauss(0, 1), rng.randint(1, 9)) for _ in range(rng.randint(1, 60))]
            size = rng.randint(1, 20)
            assert histogram.merge(buckets, size) == [(b.centroid, b.count)
                                                      for b in ref.histogram_from_buckets(size, buckets).buckets]
    finally:
        histogram._FAST = fast


def _aggregate_with_dates(mlops_cls: type, directory: Path) -> None:
    import pandas as pd

    m = mlops_cls().set_deployment_id("d").set_model_id("m").set_filesystem_spooler(str(directory))
    m.set_feature_types([{"name": "x", "feature_type": "numeric"},
                         {"name": "day", "feature_type": "date", "format": "%Y-%m-%d"},
                         {"name": "at", "feature_type": "date", "format": "%Y-%m-%d %H:%M:%S"}])
    m.set_prediction_timestamp_column("when", "%Y-%m-%d %H:%M:%S").set_async_reporting(False).init()
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "day": ["2026-01-01", "2026-01-02", None],
                          "at": ["2026-01-01 12:00:00", None, "2026-01-03 00:00:01"],
                          "when": ["2026-03-01 10:15:00", "2026-03-01 10:55:00", "2026-03-01 12:05:00"]})
    m.report_aggregated_predictions_data(features_df=frame, predictions=[0.5, 1.5, 2.5])
    m.shutdown()


def test_date_features_and_prediction_hours_aggregate_the_same(tmp_path: Path) -> None:
    ref_mlops, _ = reference()
    theirs, mine = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir()
    mine.mkdir()
    _aggregate_with_dates(ref_mlops.MLOps, theirs)
    _aggregate_with_dates(MLOps, mine)
    a, b = spool_lines(theirs), spool_lines(mine)
    assert len(a) == len(b) == 2  # one record per prediction hour
    assert [normalized(x) for x in a] == [normalized(y) for y in b]
