"""Population stability index between two binned distributions, and the drift status it maps to."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Industry rule of thumb (and DataRobot's default drift thresholds): < 0.1 stable, >= 0.25 a real shift.
PSI_WARNING = 0.1
PSI_FAILING = 0.25
# Empty bins would make log() infinite; smooth each proportion with a small floor, as PSI tools do.
EPSILON = 1e-4


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = EPSILON) -> float | None:
    """Return the PSI of actual counts against expected counts per bin; None when either side is empty."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    size = max(len(e), len(a))
    e = np.pad(e, (0, size - len(e)))
    a = np.pad(a, (0, size - len(a)))
    if e.sum() <= 0 or a.sum() <= 0:
        return None
    pe = np.maximum(e / e.sum(), epsilon)
    pa = np.maximum(a / a.sum(), epsilon)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def drift_status(value: float | None, warning: float = PSI_WARNING, failing: float = PSI_FAILING) -> str:
    """Return passing / warning / failing for a PSI, unknown when there is none."""
    if value is None:
        return "unknown"
    if value >= failing:
        return "failing"
    if value >= warning:
        return "warning"
    return "passing"


def worst_status(statuses: Sequence[str]) -> str:
    """Return the worst of several statuses (failing > warning > passing > unknown)."""
    order = {"unknown": 0, "passing": 1, "warning": 2, "failing": 3}
    return max(statuses, key=lambda s: order.get(s, 0), default="unknown")
