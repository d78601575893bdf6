"""Autoscaling decisions: a pure function of the settings, the replicas now, the window's load and the last steps.

Out: every replica above its target pushes the count up at once (to what the load needs at the target, bounded by
autoscaleMax), once the cooldown since the last step has passed. In: only when the load would stay under 70 % of
the target on fewer replicas, for a whole cooldown, so a load between the two marks changes nothing (no flapping).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from bosun_local.contracts.autoscale import SCALE_IN_SHARE, AutoscaleSettings


@dataclass(frozen=True)
class Sample:
    """One round's figures summed over the replicas: requests in flight, and latency buckets (cumulative)."""

    at: float
    replicas: int
    in_flight: float
    # (upper bound in ms, cumulative count) pairs of the prediction routes' histogram; None if unread.
    buckets: tuple[tuple[float, float], ...] | None = None


@dataclass(frozen=True)
class Load:
    """The window's load: mean requests in flight per replica and the p95 latency (None when nothing was served)."""

    in_flight_per_replica: float | None
    p95_ms: float | None
    samples: int


@dataclass
class ScaleState:
    """What a deployment's decisions remember: when the last step was, since when the load has been low."""

    last_step_at: float | None = None
    low_since: float | None = None


@dataclass(frozen=True)
class Decision:
    """How many replicas to run and why (for the event)."""

    replicas: int
    reason: str


def window_load(samples: list[Sample], now: float, window_sec: float) -> Load:
    """Return the load of the samples within the window (p95 from the bucket counts' growth across it)."""
    recent = [s for s in samples if now - s.at <= window_sec]
    if not recent:
        return Load(None, None, 0)
    per_replica = sum(s.in_flight / max(s.replicas, 1) for s in recent) / len(recent)
    return Load(per_replica, _p95(recent[0].buckets, recent[-1].buckets), len(recent))


def _p95(first: tuple[tuple[float, float], ...] | None, last: tuple[tuple[float, float], ...] | None) -> float | None:
    """Return the p95 in ms of the requests between two cumulative histograms (the bucket bound it falls in)."""
    if not first or not last or len(first) != len(last):
        return None
    grown = [(bound, max(b - a, 0.0)) for (bound, a), (_, b) in zip(first, last, strict=True)]
    total = grown[-1][1]
    if total <= 0:
        return None
    return next((bound for bound, count in grown if count >= 0.95 * total), grown[-1][0])


def _needed(settings: AutoscaleSettings, current: int, load: Load, share: float) -> int | None:
    """Return the replicas that keep each metric at `share` of its target, the larger of the two; None if unknown."""
    wants = []
    if settings.target_in_flight is not None and load.in_flight_per_replica is not None:
        wants.append(math.ceil(round(load.in_flight_per_replica * current / (settings.target_in_flight * share), 6)))
    if settings.target_p95_ms is not None and load.samples:
        p95 = load.p95_ms or 0.0  # nothing served in the window: no latency to keep replicas for
        wants.append(math.ceil(round(current * p95 / (settings.target_p95_ms * share), 6)))
    return max(wants) if wants else None


def decide(settings: AutoscaleSettings, current: int, load: Load, now: float, state: ScaleState) -> Decision:
    """Return the replicas to run now; moves state's low-load timer, never its last step (the caller sets that)."""
    low, high = settings.min_replicas, settings.max_replicas
    if current < low or current > high:
        state.low_since = None
        bound = low if current < low else high
        return Decision(bound, f"{current} replicas are outside autoscaleMin {low} .. autoscaleMax {high}")
    out = _needed(settings, current, load, 1.0)
    if out is None:
        state.low_since = None
        return Decision(current, "no figures from the replicas yet")
    cooling = state.last_step_at is not None and now - state.last_step_at < settings.cooldown_sec
    if out > current:
        state.low_since = None
        wanted = min(out, high)
        if wanted == current:
            return Decision(current, f"at autoscaleMax {high}")
        if cooling:
            return Decision(current, "load above target, cooling down after the last step")
        return Decision(wanted, f"load above target: {describe(load)}")
    fits = _needed(settings, current, load, SCALE_IN_SHARE)
    inward = max(current if fits is None else fits, low)
    if inward >= current:
        state.low_since = None
        return Decision(current, f"load within target: {describe(load)}")
    if state.low_since is None:
        state.low_since = now
    if now - state.low_since < settings.cooldown_sec or cooling:
        return Decision(current, "load low, waiting a cooldown before scaling in")
    state.low_since = None
    return Decision(inward, f"load below {SCALE_IN_SHARE:.0%} of target for {settings.cooldown_sec:g} s: "
                            f"{describe(load)}")


def describe(load: Load) -> str:
    """Return the load as words for events and logs."""
    parts = []
    if load.in_flight_per_replica is not None:
        parts.append(f"{load.in_flight_per_replica:.2f} requests in flight per replica")
    parts.append(f"p95 {load.p95_ms:g} ms" if load.p95_ms is not None else "no requests timed")
    return ", ".join(parts) + f" over {load.samples} samples"
