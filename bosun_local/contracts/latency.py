"""Latency bucket bounds shared by the monitoring agent (writer) and the service (reader)."""
from __future__ import annotations

import bisect

# Upper bounds in milliseconds; a final implicit bucket holds everything slower.
LATENCY_BUCKETS_MS: list[float] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]


def latency_bucket(ms: float) -> int:
    """Return the index of the bucket holding a latency in ms."""
    return bisect.bisect_left(LATENCY_BUCKETS_MS, ms)


def percentile(counts: list[int], q: float) -> float | None:
    """Return the q-quantile (0..1) of a bucketed latency distribution, interpolated within a bucket."""
    total = sum(counts)
    if total == 0:
        return None
    target = q * total
    seen = 0
    for i, n in enumerate(counts):
        if n and seen + n >= target:
            lo = LATENCY_BUCKETS_MS[i - 1] if i > 0 else 0.0
            hi = LATENCY_BUCKETS_MS[i] if i < len(LATENCY_BUCKETS_MS) else LATENCY_BUCKETS_MS[-1] * 2
            return lo + (hi - lo) * ((target - seen) / n)
        seen += n
    return float(LATENCY_BUCKETS_MS[-1])
