"""Ben-Haim/Tom-Tov centroid histograms (JMLR 11, 2010), the sketch PREDICTION_STATS records carry.

Each value is inserted as a (value, 1) bucket in centroid order; when there are more than max_length buckets,
the two adjacent buckets with the closest centroids merge into their count-weighted mean. The published
algorithm leaves the choice among exactly equal gaps open; DataRobot's C++ build (`drfaster`, MIT) makes a
choice we could not reproduce from its outputs, so it is used when installed and these are then bit-identical.
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Iterable

Bucket = tuple[float, int]
DEFAULT_MAX_LENGTH = 1000


def _drfaster():  # noqa: ANN202 - returns the optional module or None
    try:
        from drfaster import centroid_histogram
    except ImportError:
        return None
    return centroid_histogram


_FAST = _drfaster()


def _insert(centroids: list[float], counts: list[int], value: float, count: int, max_length: int) -> None:
    i = bisect.bisect_right(centroids, value)
    centroids.insert(i, value)
    counts.insert(i, count)
    if len(centroids) <= max_length:
        return
    best, k = math.inf, 0
    for j in range(len(centroids) - 1):
        gap = centroids[j + 1] - centroids[j]
        if gap < best:
            best, k = gap, j
    n = counts[k] + counts[k + 1]
    centroids[k:k + 2] = [(centroids[k] * counts[k] + centroids[k + 1] * counts[k + 1]) / n]
    counts[k:k + 2] = [n]


def from_values(values: Iterable[float | None], max_length: int | None = None) -> list[Bucket]:
    """Return the histogram of values (None and NaN left out), at most max_length buckets."""
    size = max_length or DEFAULT_MAX_LENGTH
    if _FAST is not None:
        return [(float(b.centroid), int(b.count)) for b in _FAST.histogram_from_values(size, values).buckets]
    centroids: list[float] = []
    counts: list[int] = []
    for value in values:
        if value is None or value != value:
            continue
        _insert(centroids, counts, float(value), 1, size)
    return list(zip(centroids, counts, strict=True))


def merge(buckets: Iterable[Bucket], max_length: int | None = None) -> list[Bucket]:
    """Return one histogram of at most max_length buckets from the buckets of several."""
    size = max_length or DEFAULT_MAX_LENGTH
    pairs = [(float(c), int(n)) for c, n in buckets if n]
    if _FAST is not None:
        return [(float(b.centroid), int(b.count)) for b in _FAST.histogram_from_buckets(size, pairs).buckets]
    centroids: list[float] = []
    counts: list[int] = []
    for centroid, count in pairs:
        _insert(centroids, counts, centroid, count, size)
    return list(zip(centroids, counts, strict=True))
