"""keyValueConfig keys of a dedicated deployment's autoscaling, read by the plugin (at start) and the agent (to scale).

Set autoscaleMax (and a target) to turn it on; the management agent then moves keyValueConfig replicas between
autoscaleMin and autoscaleMax from the replicas' own figures (docs/platforms.md, "Replicas and autoscaling").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# keyValueConfig key of a dedicated deployment's replica count (`deployments scale` writes it when done).
REPLICAS_KEY = "replicas"
MIN_KEY = "autoscaleMin"
MAX_KEY = "autoscaleMax"
IN_FLIGHT_KEY = "autoscaleTargetInFlight"
P95_KEY = "autoscaleTargetP95Ms"
COOLDOWN_KEY = "autoscaleCooldownSec"
WINDOW_KEY = "autoscaleWindowSec"
KEYS = (MIN_KEY, MAX_KEY, IN_FLIGHT_KEY, P95_KEY, COOLDOWN_KEY, WINDOW_KEY)
MOST_REPLICAS = 64
# Hysteresis: scale in only when the load would stay under this share of the target on fewer replicas.
SCALE_IN_SHARE = 0.7


class AutoscaleConfigError(ValueError):
    """A deployment's autoscale keys cannot make a policy; the message names the key, the value and the fix."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(f"{message}; fix: {fix}")
        self.message = message
        self.fix = fix


@dataclass(frozen=True)
class AutoscaleSettings:
    """Bounds, targets and timing of one deployment's autoscaling."""

    min_replicas: int
    max_replicas: int
    # Requests being answered per replica (averaged over the window), and the 95th percentile latency.
    target_in_flight: float | None
    target_p95_ms: float | None
    # Least time between two steps, and how long the load must stay low before a step in.
    cooldown_sec: float = 30.0
    # The span of samples each decision averages.
    window_sec: float = 10.0


def _number(kv: dict[str, Any], key: str, deployment_id: str, whole: bool, default: float | None,
            fix: str) -> float | None:
    raw = kv.get(key)
    if raw in (None, ""):
        return default
    try:
        value = float(str(raw)) if not isinstance(raw, bool) else -1.0
    except ValueError:
        value = -1.0
    if value <= 0 or (whole and not value.is_integer()):
        kind = "a whole number of at least 1" if whole else "a positive number"
        raise AutoscaleConfigError(f"deployment {deployment_id}: keyValueConfig {key}={raw!r} is not {kind}", fix)
    return value


def autoscale_settings(kv: dict[str, Any], deployment_id: str) -> AutoscaleSettings | None:
    """Return the deployment's autoscaling, None when autoscaleMax is not set; raise naming a bad key."""
    if all(kv.get(key) in (None, "") for key in KEYS):
        return None
    if kv.get(MAX_KEY) in (None, ""):
        raise AutoscaleConfigError(f"deployment {deployment_id}: keyValueConfig sets "
                                   f"{', '.join(k for k in KEYS if kv.get(k) not in (None, ''))} but not {MAX_KEY}",
                                   f"set {MAX_KEY} (like 4) to autoscale, or remove the autoscale* keys")
    low = int(_number(kv, MIN_KEY, deployment_id, True, 1, f"set {MIN_KEY} like 1") or 1)
    high = int(_number(kv, MAX_KEY, deployment_id, True, None, f"set {MAX_KEY} like 4") or 1)
    if high > MOST_REPLICAS or low > high:
        raise AutoscaleConfigError(f"deployment {deployment_id}: keyValueConfig {MIN_KEY}={low} and {MAX_KEY}={high} "
                                   f"are not bounds from 1 to {MOST_REPLICAS}",
                                   f"set {MIN_KEY} <= {MAX_KEY} <= {MOST_REPLICAS}")
    in_flight = _number(kv, IN_FLIGHT_KEY, deployment_id, False, None, f"set {IN_FLIGHT_KEY} like 4")
    p95 = _number(kv, P95_KEY, deployment_id, False, None, f"set {P95_KEY} like 250")
    if in_flight is None and p95 is None:
        raise AutoscaleConfigError(f"deployment {deployment_id}: keyValueConfig {MAX_KEY}={high} has no target to "
                                   "scale on", f"set {IN_FLIGHT_KEY} (requests per replica, like 4) or {P95_KEY} "
                                               "(like 250), or both")
    cooldown = _number(kv, COOLDOWN_KEY, deployment_id, False, 30.0, f"set {COOLDOWN_KEY} like 30") or 30.0
    window = _number(kv, WINDOW_KEY, deployment_id, False, 10.0, f"set {WINDOW_KEY} like 10") or 10.0
    return AutoscaleSettings(low, high, in_flight, p95, cooldown, window)


def configured_replicas(kv: dict[str, Any], autoscale: AutoscaleSettings | None) -> Any:
    """Return what keyValueConfig asks for: `replicas`, else autoscaleMin; None when neither (raw, unvalidated)."""
    raw = kv.get(REPLICAS_KEY)
    if raw in (None, ""):
        return autoscale.min_replicas if autoscale is not None else None
    return raw
