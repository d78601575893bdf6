"""Latency as a mergeable quantile sketch: DDSketch log buckets (1 % relative error) with exact count, sum, min, max.

The monitoring agent (writer) and the service (reader, merger) share this wire form. The bucket mapping is
DDSketch's logarithmic one (Masson, Rim & Lee, VLDB 2019) with the same constants as Datadog's `ddsketch`
package's LogarithmicMapping, so keys agree with any DDSketch of the same relative accuracy; contracts are
standard-library only, and the tests check every key and quantile against that package.
"""
from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

RELATIVE_ACCURACY = 0.01


class LogMapping:
    """DDSketch's logarithmic index mapping: value -> bucket key and key -> the value that stands for its bucket."""

    def __init__(self, relative_accuracy: float) -> None:
        mantissa = 2 * relative_accuracy / (1 - relative_accuracy)
        self.relative_accuracy = relative_accuracy
        self.gamma = 1 + mantissa
        # log base 2 scaled, exactly as ddsketch.mapping.LogarithmicMapping computes it (keys must agree).
        self._multiplier = math.log(2) / math.log1p(mantissa)
        self.min_possible = sys.float_info.min * self.gamma

    def key(self, value: float) -> int:
        """Return the bucket key of a positive value."""
        return int(math.ceil(math.log(value, 2) * self._multiplier))

    def value(self, key: int) -> float:
        """Return the value within relative_accuracy of every value in the bucket."""
        return math.pow(2.0, key / self._multiplier) * (2.0 / (1 + self.gamma))


_MAPPING = LogMapping(RELATIVE_ACCURACY)
# Values at or below this (0 ms in practice) go to the zero bucket: the log mapping cannot hold them.
_MIN_VALUE = _MAPPING.min_possible
# The fixed buckets (upper bounds, ms) agents and databases used before the sketch; read for migration only.
LEGACY_BUCKETS_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


class SketchError(ValueError):
    """A wire sketch that cannot be read; the message names the field and what was expected."""


class LatencySketch:
    """A DDSketch of non-negative latencies in ms: add, merge, quantile, and a JSON wire form."""

    __slots__ = ("bins", "zero_count", "count", "sum", "min", "max", "from_buckets")

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}
        self.zero_count = 0
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        # True once any legacy fixed-bucket counts were merged in: min, max and quantiles are then estimates.
        self.from_buckets = False

    def add(self, value: float, weight: int = 1) -> None:
        """Count a latency (ms) `weight` times."""
        if not math.isfinite(value) or value < 0:
            raise SketchError(f"latency {value!r} ms must be a finite number >= 0")
        if weight <= 0:
            return
        if value > _MIN_VALUE:
            key = _MAPPING.key(value)
            self.bins[key] = self.bins.get(key, 0) + weight
        else:
            self.zero_count += weight
        self.count += weight
        self.sum += value * weight
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def add_many(self, values: Iterable[float]) -> None:
        """Count each latency of an iterable once (the same keys as add, in one pass over many values)."""
        counted = [float(v) for v in values]
        if not counted:
            return
        if not all(0 <= v < math.inf for v in counted):  # NaN fails every comparison
            bad = next(v for v in counted if not 0 <= v < math.inf)
            raise SketchError(f"latency {bad!r} ms must be a finite number >= 0")
        multiplier, log, ceil, bins = _MAPPING._multiplier, math.log, math.ceil, self.bins
        keyed = 0
        for key, n in Counter(ceil(log(v, 2) * multiplier) for v in counted if v > _MIN_VALUE).items():
            bins[key] = bins.get(key, 0) + n
            keyed += n
        self.zero_count += len(counted) - keyed
        self.count += len(counted)
        total = self.sum
        for v in counted:  # in order, as add() would: sums stay bit-identical
            total += v
        self.sum = total
        self.min = min(self.min, min(counted))
        self.max = max(self.max, max(counted))

    def merge(self, other: LatencySketch) -> LatencySketch:
        """Add another sketch's counts into this one and return self."""
        bins = self.bins
        for key, n in other.bins.items():
            bins[key] = bins.get(key, 0) + n
        self.zero_count += other.zero_count
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.from_buckets = self.from_buckets or other.from_buckets
        return self

    @property
    def mean(self) -> float | None:
        """Return the exact mean latency, None when empty."""
        return self.sum / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """Return the q-quantile (0..1) within 1 % of the sample of rank floor(q*(n-1)), None when empty."""
        if not 0 <= q <= 1:
            raise SketchError(f"quantile {q!r} must be between 0 and 1")
        if self.count == 0:
            return None
        if q == 0 or q == 1:  # the extremes are kept exactly
            return self.min if q == 0 else self.max
        rank = q * (self.count - 1)
        if rank < self.zero_count:
            return max(0.0, self.min)
        seen = self.zero_count
        value = self.max
        for key in sorted(self.bins):
            seen += self.bins[key]
            if seen > rank:
                value = _MAPPING.value(key)
                break
        # The exact extremes can only bring an estimate closer to the sample it stands for.
        return min(max(value, self.min), self.max)

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON wire form."""
        wire: dict[str, Any] = {"relativeAccuracy": RELATIVE_ACCURACY,
                                "bins": {str(k): n for k, n in self.bins.items()}, "zeroCount": self.zero_count,
                                "count": self.count, "sum": self.sum,
                                "min": self.min if self.count else None, "max": self.max if self.count else None}
        if self.from_buckets:
            wire["fromBuckets"] = True
        return wire

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any], where: str = "latencySketch") -> LatencySketch:
        """Read a wire sketch, checking it is whole and consistent."""
        if not isinstance(wire, Mapping):
            raise SketchError(f"{where} must be an object, got {type(wire).__name__}")
        accuracy = wire.get("relativeAccuracy")
        if accuracy != RELATIVE_ACCURACY:
            raise SketchError(f"{where}.relativeAccuracy is {accuracy!r}; this service merges sketches of "
                              f"{RELATIVE_ACCURACY} only (build them with bosun_local.contracts.latency)")
        sketch = cls()
        bins = wire.get("bins") or {}
        if not isinstance(bins, Mapping):
            raise SketchError(f"{where}.bins must be an object of bucket key -> count")
        try:
            sketch.bins = {int(k): _count(n, f"{where}.bins[{k}]") for k, n in bins.items() if n}
        except ValueError as exc:
            raise SketchError(f"{where}.bins has a key that is not an integer: {exc}") from exc
        sketch.zero_count = _count(wire.get("zeroCount", 0), f"{where}.zeroCount")
        sketch.count = _count(wire.get("count", 0), f"{where}.count")
        if sketch.count != sketch.zero_count + sum(sketch.bins.values()):
            raise SketchError(f"{where}.count is {sketch.count} but its buckets hold "
                              f"{sketch.zero_count + sum(sketch.bins.values())}")
        sketch.sum = _number(wire.get("sum", 0.0), f"{where}.sum")
        if sketch.count:
            sketch.min = _number(wire.get("min"), f"{where}.min")
            sketch.max = _number(wire.get("max"), f"{where}.max")
            if sketch.min > sketch.max:
                raise SketchError(f"{where}.min {sketch.min} is above its max {sketch.max}")
        sketch.from_buckets = bool(wire.get("fromBuckets", False))
        return sketch

    @classmethod
    def from_legacy_counts(cls, counts: list[int]) -> LatencySketch:
        """Convert counts per fixed bucket (LEGACY_BUCKETS_MS plus +inf) to a sketch at each bucket's middle."""
        sketch = cls()
        for i, n in enumerate(counts):
            if n <= 0:
                continue
            low = LEGACY_BUCKETS_MS[i - 1] if i > 0 else 0.0
            high = LEGACY_BUCKETS_MS[i] if i < len(LEGACY_BUCKETS_MS) else LEGACY_BUCKETS_MS[-1] * 2
            sketch.add((low + high) / 2, int(n))
            sketch.min = min(sketch.min, low)
            sketch.max = max(sketch.max, high)
        sketch.from_buckets = sketch.count > 0
        return sketch


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SketchError(f"{where} must be an integer >= 0, got {value!r}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise SketchError(f"{where} must be a finite number >= 0, got {value!r}")
    return float(value)


def merged(wires: Iterable[Mapping[str, Any] | None]) -> LatencySketch:
    """Return one sketch merging wire sketches (None entries skipped)."""
    total = LatencySketch()
    for wire in wires:
        if wire:
            total.merge(LatencySketch.from_wire(wire))
    return total
