"""Per-model inference statistics in the shape of Triton's statistics extension."""
from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from bosun_local.pps.model import LoadedModel

PHASES = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output", "cache_hit", "cache_miss")


@dataclass(slots=True)
class ModelCounters:
    """Counts and nanoseconds per phase, and per batch size, for one loaded model."""

    last_inference_ms: int = 0
    inference_count: int = 0  # rows scored
    execution_count: int = 0  # model calls
    phases: dict[str, list[int]] = field(default_factory=lambda: {p: [0, 0] for p in PHASES})
    batches: dict[int, dict[str, list[int]]] = field(default_factory=dict)


class InferenceStats:
    """Statistics of every loaded model; a replaced model's counters go with it, as Triton's do per version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: weakref.WeakKeyDictionary[LoadedModel, ModelCounters] = weakref.WeakKeyDictionary()
        self._slot = f"_inference_counters_{id(self)}"  # this instance's cache on each model (see _counters)

    def _counters(self, model: LoadedModel) -> ModelCounters:
        # The model's own slot first: a WeakKeyDictionary lookup per request costs more than the counting.
        counters: ModelCounters | None = model.__dict__.get(self._slot)
        if counters is None:
            counters = self._models.get(model)
            if counters is None:
                counters = self._models[model] = ModelCounters()
            model.__dict__[self._slot] = counters
        return counters

    def infer(self, model: LoadedModel, rows: int, ns: int) -> None:
        """Count one model call of `rows` rows that took `ns` nanoseconds."""
        with self._lock:
            counters = self._counters(model)
            counters.inference_count += rows
            counters.execution_count += 1
            counters.last_inference_ms = int(time.time() * 1000)
            _add(counters.phases["compute_infer"], ns)
            batch = counters.batches.get(rows) or counters.batches.setdefault(rows, _batch_phases())
            _add(batch["compute_infer"], ns)

    def phase(self, model: LoadedModel, phase: str, ns: int, rows: int | None = None) -> None:
        """Add one request's time in a phase (success, fail, compute_input, compute_output)."""
        with self._lock:
            counters = self._counters(model)
            _add(counters.phases[phase], ns)
            if rows is not None and phase in ("compute_input", "compute_output"):
                batch = counters.batches.get(rows) or counters.batches.setdefault(rows, _batch_phases())
                _add(batch[phase], ns)

    def rows_scored(self, model: LoadedModel) -> int:
        """Return how many rows the model has scored (Triton's inference_count)."""
        with self._lock:
            counters = self._models.get(model)
            return counters.inference_count if counters is not None else 0

    def document(self, name: str, version: str | None, model: LoadedModel) -> dict[str, Any]:
        """Return one entry of `model_stats`."""
        with self._lock:
            counters = self._models.get(model) or ModelCounters()
            return {
                "name": name, "version": version or "",
                "last_inference": counters.last_inference_ms,
                "inference_count": counters.inference_count, "execution_count": counters.execution_count,
                "inference_stats": {p: {"count": c, "ns": ns} for p, (c, ns) in counters.phases.items()},
                "response_stats": {},
                "batch_stats": [{"batch_size": size, **{p: {"count": c, "ns": ns} for p, (c, ns) in phases.items()}}
                                for size, phases in sorted(counters.batches.items())],
                "memory_usage": [],
            }


def _batch_phases() -> dict[str, list[int]]:
    return {p: [0, 0] for p in ("compute_input", "compute_infer", "compute_output")}


def _add(slot: list[int], ns: int) -> None:
    slot[0] += 1
    slot[1] += ns
