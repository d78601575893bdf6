"""Drift baselines: the service's bins per feature and prediction, vectorised counting, a per-deployment TTL cache."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NUMERIC = "numeric"
CATEGORICAL = "categorical"


def to_floats(values: Sequence[Any]) -> np.ndarray:
    """Return values as a float array; anything that is not a number becomes NaN."""
    try:
        return np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        out = np.empty(len(values), dtype=float)
        for i, value in enumerate(values):
            try:
                out[i] = float(value)
            except (TypeError, ValueError):
                out[i] = np.nan
        return out


def category_index(categories: tuple[str, ...]) -> dict[str, int]:
    """Return text -> bin of categories; a whole number matches as '1' and '1.0' (CSV ints vs JSON floats)."""
    index: dict[str, int] = {}
    for i, cat in enumerate(categories):
        index.setdefault(cat, i)
        try:
            number = float(cat)
        except ValueError:
            continue
        if number.is_integer():
            index.setdefault(str(int(number)), i)
            index.setdefault(str(float(number)), i)
    return index


@dataclass(frozen=True)
class Bins:
    """One histogram of the baseline: numeric inner edges (k edges, k+1 bins) or categories plus 'other'."""

    kind: str
    edges: np.ndarray = field(default_factory=lambda: np.empty(0))
    categories: tuple[str, ...] = ()
    index: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, spec: dict[str, Any]) -> Bins:
        """Build from the contract's `{type, edges}` or `{type, categories}`."""
        if spec.get("type") == CATEGORICAL:
            cats = tuple(str(c) for c in spec.get("categories") or ())
            return cls(CATEGORICAL, categories=cats, index=category_index(cats))
        edges = np.asarray(spec.get("edges") or [], dtype=float)
        return cls(NUMERIC, edges=np.sort(edges))

    @property
    def size(self) -> int:
        """Return the number of bins."""
        return len(self.edges) + 1 if self.kind == NUMERIC else len(self.categories) + 1

    def count_numbers(self, values: np.ndarray) -> list[int]:
        """Return counts per numeric bin; NaN (missing) values are not counted."""
        values = values[~np.isnan(values)]
        # side='right' puts v == edges[i] into bin i+1, i.e. bin i holds edges[i-1] <= v < edges[i].
        positions = np.searchsorted(self.edges, values, side="right")
        return np.bincount(positions, minlength=self.size).tolist()

    def count_labels(self, values: Sequence[Any]) -> list[int]:
        """Return counts per category; unknown values go to the last ('other') bin, None is not counted."""
        other = len(self.categories)
        get = self.index.get
        positions = [get(v if isinstance(v, str) else str(v), other) for v in values if v is not None]
        return np.bincount(np.asarray(positions, dtype=np.int64), minlength=self.size).tolist()

    def count(self, values: Sequence[Any]) -> list[int]:
        """Return counts per bin of raw record values."""
        if self.kind == CATEGORICAL:
            return self.count_labels(values)
        return self.count_numbers(to_floats(values))


@dataclass(frozen=True)
class Baseline:
    """A deployment's drift baseline: bins per feature and for the prediction."""

    features: dict[str, Bins]
    prediction: Bins | None

    @classmethod
    def from_wire(cls, doc: dict[str, Any]) -> Baseline:
        """Build from the service's GET /deployments/{id}/baseline answer."""
        features = {name: Bins.from_wire(spec) for name, spec in (doc.get("features") or {}).items()}
        prediction = Bins.from_wire(doc["prediction"]) if doc.get("prediction") else None
        return cls(features, prediction)


# Returns the wire baseline of a deployment, None when it has none; raises when the service cannot answer.
BaselineFetcher = Callable[[str], "dict[str, Any] | None"]


class BaselineCache:
    """Baselines per deployment, re-fetched after a TTL; 'no baseline' is cached too."""

    def __init__(self, fetch: BaselineFetcher, ttl_sec: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._ttl = ttl_sec
        self._clock = clock
        self._entries: dict[str, tuple[float, Baseline | None]] = {}
        self._lock = threading.Lock()

    def get(self, deployment_id: str) -> Baseline | None:
        """Return a deployment's baseline, fetching it when absent or stale."""
        now = self._clock()
        with self._lock:
            cached = self._entries.get(deployment_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        doc = self._fetch(deployment_id)
        baseline = Baseline.from_wire(doc) if doc else None
        with self._lock:
            self._entries[deployment_id] = (now, baseline)
        return baseline
