"""Property tests of the latency sketch: the 1 % relative error bound, exact extremes, merge laws, wire form."""
from __future__ import annotations

import math

import numpy as np
import pytest
from ddsketch import DDSketch
from ddsketch.mapping import LogarithmicMapping
from hypothesis import given, settings
from hypothesis import strategies as st

from bosun_local.contracts.latency import _MAPPING, RELATIVE_ACCURACY, LatencySketch, SketchError, merged

latencies = st.floats(min_value=0.0, max_value=1e7, allow_nan=False, allow_infinity=False)
samples = st.lists(latencies, min_size=1, max_size=400)
QUANTILES = (0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)


def sketch_of(values: list[float]) -> LatencySketch:
    """Return a sketch of values."""
    sketch = LatencySketch()
    sketch.add_many(values)
    return sketch


def within_bound(estimate: float, truth: float) -> bool:
    """Return whether an estimate is within the relative accuracy of the true value (a hair of float slack)."""
    return abs(estimate - truth) <= RELATIVE_ACCURACY * truth * (1 + 1e-9) + 1e-12


@settings(max_examples=300, deadline=None)
@given(samples)
def test_every_quantile_is_within_one_percent_of_the_lower_sample(values: list[float]) -> None:
    sketch = sketch_of(values)
    for q in QUANTILES:
        truth = float(np.quantile(values, q, method="lower"))
        estimate = sketch.quantile(q)
        assert estimate is not None and within_bound(estimate, truth), (q, estimate, truth)


@settings(max_examples=200, deadline=None)
@given(samples)
def test_count_min_max_and_mean_are_exact(values: list[float]) -> None:
    sketch = sketch_of(values)
    assert sketch.count == len(values)
    assert sketch.min == min(values) and sketch.max == max(values)
    assert sketch.mean == pytest.approx(math.fsum(values) / len(values), rel=1e-9, abs=1e-9)
    assert sketch.quantile(0) == min(values) and sketch.quantile(1) == max(values)


def _same(a: LatencySketch, b: LatencySketch) -> None:
    wa, wb = a.to_wire(), b.to_wire()
    assert wa.pop("sum") == pytest.approx(wb.pop("sum"), rel=1e-12, abs=1e-9)
    assert wa == wb


@settings(max_examples=200, deadline=None)
@given(samples, samples, samples)
def test_merge_is_associative_and_commutative(a: list[float], b: list[float], c: list[float]) -> None:
    left = sketch_of(a).merge(sketch_of(b)).merge(sketch_of(c))
    right = sketch_of(a).merge(sketch_of(b).merge(sketch_of(c)))
    _same(left, right)
    _same(sketch_of(a).merge(sketch_of(b)), sketch_of(b).merge(sketch_of(a)))


@settings(max_examples=200, deadline=None)
@given(st.lists(samples, min_size=1, max_size=6))
def test_merged_parts_equal_the_sketch_of_all_values_and_keep_the_bound(parts: list[list[float]]) -> None:
    everything = [v for part in parts for v in part]
    whole = merged(sketch_of(part).to_wire() for part in parts)
    _same(whole, sketch_of(everything))
    for q in QUANTILES:
        assert within_bound(whole.quantile(q) or 0.0, float(np.quantile(everything, q, method="lower")))


@settings(max_examples=100, deadline=None)
@given(samples)
def test_wire_form_round_trips(values: list[float]) -> None:
    sketch = sketch_of(values)
    _same(LatencySketch.from_wire(sketch.to_wire()), sketch)


def test_the_issue_case_every_request_at_5_ms_reads_5_ms() -> None:
    sketch = sketch_of([5.0] * 20)
    assert [sketch.quantile(q) for q in (0.5, 0.95, 0.99)] == [5.0, 5.0, 5.0]


def test_an_empty_sketch_has_no_quantile_and_zero_latencies_are_counted() -> None:
    assert LatencySketch().quantile(0.5) is None
    sketch = sketch_of([0.0, 0.0, 3.0])
    assert sketch.quantile(0.5) == 0.0 and sketch.count == 3


@pytest.mark.parametrize(("wire", "message"), [
    ({"relativeAccuracy": 0.02, "bins": {}, "count": 0}, "relativeAccuracy"),
    ({"relativeAccuracy": 0.01, "bins": {"x": 1}, "count": 1, "min": 1, "max": 1}, "not an integer"),
    ({"relativeAccuracy": 0.01, "bins": {"5": 2}, "count": 3, "min": 1, "max": 1}, "count is 3"),
    ({"relativeAccuracy": 0.01, "bins": {"5": -1}, "count": -1}, ">= 0"),
    ({"relativeAccuracy": 0.01, "bins": {"5": 1}, "count": 1, "min": 2, "max": 1}, "above its max"),
])
def test_bad_wire_sketches_are_refused_naming_the_field(wire: dict, message: str) -> None:
    with pytest.raises(SketchError, match=message):
        LatencySketch.from_wire(wire)


def test_negative_or_nan_latencies_are_refused() -> None:
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(SketchError):
            LatencySketch().add(bad)


def test_legacy_bucket_counts_convert_to_an_estimate_marked_as_such() -> None:
    counts = [0, 0, 20] + [0] * 11  # twenty requests in the (2, 5] ms bucket
    sketch = LatencySketch.from_legacy_counts(counts)
    assert sketch.count == 20 and sketch.from_buckets
    assert sketch.min == 2 and sketch.max == 5
    assert sketch.quantile(0.5) == pytest.approx(3.5, rel=RELATIVE_ACCURACY)
    assert LatencySketch.from_wire(sketch.to_wire()).from_buckets


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-300, max_value=1e300))
def test_bucket_keys_and_values_are_datadogs_ddsketch_ones(value: float) -> None:
    reference = LogarithmicMapping(RELATIVE_ACCURACY)
    assert _MAPPING.key(value) == reference.key(value)
    assert _MAPPING.value(_MAPPING.key(value)) == reference.value(reference.key(value))


@settings(max_examples=200, deadline=None)
@given(samples)
def test_quantiles_agree_with_the_ddsketch_package_within_the_exact_extremes(values: list[float]) -> None:
    reference = DDSketch(RELATIVE_ACCURACY)
    for value in values:
        reference.add(value)
    ours = sketch_of(values)
    for q in QUANTILES[1:-1]:
        expected = min(max(reference.get_quantile_value(q), min(values)), max(values))
        assert ours.quantile(q) == pytest.approx(expected, rel=1e-12, abs=1e-300)


@settings(max_examples=200, deadline=None)
@given(samples)
def test_add_many_is_add_one_by_one(values: list[float]) -> None:
    one_by_one = LatencySketch()
    for value in values:
        one_by_one.add(value)
    assert sketch_of(values).to_wire() == one_by_one.to_wire()  # same keys, counts, bit-identical sum


def test_add_many_refuses_a_bad_latency_and_counts_nothing() -> None:
    sketch = LatencySketch()
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(SketchError, match="finite number >= 0"):
            sketch.add_many([1.0, bad])
    assert sketch.count == 0
