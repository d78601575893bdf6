"""The packed stats record: many requests' DEPLOYMENT_STATS in one record, as columns (a bosun-local extension).

A server reporting every request it serves writes one ~330-byte DEPLOYMENT_STATS record per request in
datarobot-mlops' form; on a server that shares its CPU with its reporter that line is most of what monitoring
costs. `DEPLOYMENT_STATS_PACKED` carries the same facts for a batch of requests of one deployment and model:

    {"timestamp": "<one time for the batch>", "modelId": "m", "numPredictions": [1, 1, 3],
     "executionTime": [0.41, 0.38, 1.2], "userErrorAt": [2], "systemErrorAt": []}

`numPredictions` and `executionTime` (ms) hold one value per request, in order; `userErrorAt` and
`systemErrorAt` list the positions of the requests that were errors (errors are rare: positions are shorter than
a flag per request). Request i of a record with id R counts as the DEPLOYMENT_STATS record `R:i` would: the
monitoring agent expands it to those record ids, so the service counts each request once, a redelivered packed
record is a duplicate of itself, and the figures (counts, errors, latency sketch) are those of the per-request
records. Only bosun-local's monitoring agent reads it; apps using the real datarobot-mlops keep writing
DEPLOYMENT_STATS, which stays accepted unchanged.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any

from bosun_local.contracts.record_bounds import MAX_COUNT, short
from bosun_local.contracts.records import DEPLOYMENT_STATS_PACKED, RecordError

__all__ = ["DEPLOYMENT_STATS_PACKED", "MAX_PACKED_REQUESTS", "PackedRequests", "check", "pack", "request_ids",
           "unpack"]

# Requests one packed record holds at most (a writer splits larger batches): ~200 KB of text, and a folded
# ingest entry of the service (RequestsIn) takes up to 100,000 record ids.
MAX_PACKED_REQUESTS = 10_000
_INT, _NUMBER = {int}, {int, float}


@dataclass(frozen=True, slots=True)
class PackedRequests:
    """The requests of a packed record as columns, one value per request (errors as flags)."""

    num_predictions: list[int]
    execution_time_ms: list[float]
    user_errors: list[bool]
    system_errors: list[bool]

    def __len__(self) -> int:
        return len(self.num_predictions)


def pack(model_id: str | None, timestamp: str, num_predictions: Sequence[int], execution_time_ms: Sequence[float],
         user_errors: Sequence[bool], system_errors: Sequence[bool]) -> list[dict[str, Any]]:
    """Return the data objects of packed records for these requests (none for no request; split when many)."""
    count = len(num_predictions)
    if not len(execution_time_ms) == len(user_errors) == len(system_errors) == count:
        raise ValueError("pack() needs one value per request in every column")
    out = []
    for start in range(0, count, MAX_PACKED_REQUESTS):
        end = min(count, start + MAX_PACKED_REQUESTS)
        positions = range(end - start)
        out.append({"timestamp": timestamp, "modelId": model_id,
                    "numPredictions": list(num_predictions[start:end]),
                    "executionTime": list(execution_time_ms[start:end]),
                    # compress() walks the flags in C: the common all-false column costs no Python loop.
                    "userErrorAt": list(compress(positions, user_errors[start:end])),
                    "systemErrorAt": list(compress(positions, system_errors[start:end]))})
    return out


def check(data: dict[str, Any]) -> int:
    """Check a packed record's data (timestamp and modelId are checked with every record); return its requests."""
    counts = data.get("numPredictions")
    times = data.get("executionTime")
    if not isinstance(counts, list):
        raise RecordError(f"data.numPredictions must be a list with one count per request, got {short(counts)}")
    if not isinstance(times, list) or len(times) != len(counts):
        got = len(times) if isinstance(times, list) else short(times)
        raise RecordError(f"data.executionTime must be a list with one time (ms) per request: "
                          f"{len(counts)} requests, got {got}")
    if len(counts) > MAX_PACKED_REQUESTS:
        raise RecordError(f"a packed record holds at most {MAX_PACKED_REQUESTS} requests, got {len(counts)}: "
                          "split the batch")
    # Per column in C (type sets, min, max, sum) on the good path; the loop that names the culprit runs only
    # when a column is bad.
    if counts and not (set(map(type, counts)) <= _INT and min(counts) >= 0 and max(counts) <= MAX_COUNT):
        _culprit(counts, "numPredictions", f"an integer from 0 to {MAX_COUNT}",
                 lambda v: not isinstance(v, bool) and isinstance(v, int) and 0 <= v <= MAX_COUNT)
    if times and not (set(map(type, times)) <= _NUMBER and min(times) >= 0 and math.isfinite(sum(times))):
        # (finite times whose sum overflows come here too, and pass)
        _culprit(times, "executionTime", "a number of ms >= 0",
                 lambda v: not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v) and v >= 0)
    for key in ("userErrorAt", "systemErrorAt"):
        _positions(data.get(key, []), key, len(counts))
    return len(counts)


def _culprit(values: list[Any], key: str, expected: str, good: Callable[[Any], bool]) -> None:
    """Raise RecordError naming the first value of a column that is not good (none: the column is fine)."""
    for i, value in enumerate(values):
        if not good(value):
            raise RecordError(f"data.{key}[{i}] must be {expected}, got {short(value)}")


def _positions(at: Any, key: str, count: int) -> None:
    if not isinstance(at, list):
        raise RecordError(f"data.{key} must be a list of request positions, got {short(at)}")
    if not at:
        return
    # Sorted without repeats, in C: equal to its own sorted set.
    if not (set(map(type, at)) <= _INT and at[0] >= 0 and at[-1] < count and at == sorted(set(at))):
        raise RecordError(f"data.{key} must list request positions from 0 to {count - 1} in increasing order, "
                          f"got {short(at)}")


def unpack(data: dict[str, Any]) -> PackedRequests:
    """Return the requests of a checked packed record as columns."""
    counts: list[int] = data["numPredictions"]
    users = [False] * len(counts)
    for i in data.get("userErrorAt", ()):
        users[i] = True
    systems = [False] * len(counts)
    for i in data.get("systemErrorAt", ()):
        systems[i] = True
    return PackedRequests(counts, data["executionTime"], users, systems)


def request_ids(record_id: str, count: int) -> list[str]:
    """Return the record ids the requests of a packed record count as: `<record id>:<position>`."""
    prefix = f"{record_id}:"
    return [prefix + str(i) for i in range(count)]
