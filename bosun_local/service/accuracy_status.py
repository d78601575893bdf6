"""Accuracy of deployments as stats show it, cached until new joins arrive, and its status-change events."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bosun_local.service.accuracy import (
    DEFAULT_METRIC,
    METRICS,
    REGRESSION,
    accuracy_metrics,
    accuracy_status,
    regression_from_sums,
    target_type_of,
)
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import iso, utcnow

if TYPE_CHECKING:
    from bosun_local.service.context import ServiceContext

log = logging.getLogger(__name__)
ACCURACY_STATUS_CHANGED = "accuracy_status_changed"
# Actuals arrive late: status events look at a week of predictions unless a deployment sets accuracyWindowSec.
DEFAULT_STATUS_WINDOW_SEC = 7 * 86400
# How often the status of every deployment is re-checked even without new joins (windows slide).
FULL_CHECK_SEC = 60.0
_CACHE_LIMIT = 2000


class AccuracyTracker:
    """Which deployments got new predictions-with-ids or actuals, cached accuracy, and the last posted status."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.versions: dict[str, int] = {}
        self.dirty: set[str] = set()
        self.cache: dict[tuple[str, str], tuple[int, Row]] = {}
        self.last_status: dict[str, str] = {}
        self.wake = threading.Event()

    def changed(self, deployment_ids: Iterable[str]) -> None:
        """Note new joins for deployments (their cached accuracy is stale; their status is re-checked soon)."""
        with self.lock:
            for dep in deployment_ids:
                self.versions[dep] = self.versions.get(dep, 0) + 1
                self.dirty.add(dep)
        self.wake.set()

    def take_dirty(self) -> set[str]:
        """Return and clear the deployments that changed."""
        with self.lock:
            dirty, self.dirty = self.dirty, set()
            return dirty


def mark_changed(ctx: ServiceContext, deployment_ids: Iterable[str]) -> None:
    """Tell the tracker that deployments' joins changed (after their rows were stored)."""
    ids = [d for d in deployment_ids if d]
    if ids:
        ctx.accuracy.changed(ids)


def accuracy_metric(dep: Row | None, target_type: str | None) -> str | None:
    """Return the metric driving a deployment's accuracy status (keyValueConfig accuracyMetric, else a default)."""
    if target_type is None:
        return None
    chosen = ((dep or {}).get("keyValueConfig") or {}).get("accuracyMetric")
    if chosen in METRICS[target_type]:
        return str(chosen)
    return DEFAULT_METRIC[target_type]


def deployment_accuracy(ctx: ServiceContext, dep: Row | None, dep_id: str, since: str,
                        limits: dict[str, Any]) -> Row:
    """Return the accuracy object of stats: metrics of predictions made since a time that have actuals."""
    tracker = ctx.accuracy
    key = (dep_id, since)
    with tracker.lock:
        version = tracker.versions.get(dep_id, 0)
        hit = tracker.cache.get(key)
    if hit is not None and hit[0] == version:
        result = hit[1]
    else:
        package = ctx.storage.get_package(dep["packageId"]) if dep and dep.get("packageId") else None
        if package and package.get("targetType") == REGRESSION:
            # Sums in SQL: a million matched rows cost a fraction of a second, not a fetch of every row.
            sums = ctx.storage.regression_sums(dep_id, since)
            target_type: str | None = REGRESSION
            matched = int(sums["matched"])
            used, metrics = regression_from_sums(sums)
        else:
            rows = ctx.storage.matched_rows(dep_id, since)
            target_type, matched = target_type_of(package, rows), len(rows)
            used, metrics = accuracy_metrics(target_type, rows)
        result = {"targetType": target_type, "matched": matched, "rowsUsed": used, "metrics": metrics,
                  "waitingActuals": ctx.storage.waiting_actuals(dep_id)}
        with tracker.lock:
            if len(tracker.cache) > _CACHE_LIMIT:
                tracker.cache.clear()
            tracker.cache[key] = (version, result)
    metric = accuracy_metric(dep, result["targetType"])
    status = accuracy_status(metric, result["metrics"].get(metric) if metric else None, limits, result["rowsUsed"])
    return {**result, "metric": metric, "status": status}


def window_start(seconds: float) -> str:
    """Return the stored-time form of the start of the minute `seconds` ago (windows move a minute at a time)."""
    return iso((utcnow() - timedelta(seconds=seconds)).replace(second=0, microsecond=0))


def status_window_sec(limits: dict[str, Any]) -> float:
    """Return the window accuracy status events are judged over."""
    return float(limits.get("accuracyWindowSec", DEFAULT_STATUS_WINDOW_SEC))


def check_status(ctx: ServiceContext, dep: Row) -> Row | None:
    """Post an accuracy_status_changed event when a deployment's status differs from the last posted one."""
    from bosun_local.service.events import record_event
    from bosun_local.service.stats import thresholds_for

    limits = thresholds_for(ctx, dep)
    window = status_window_sec(limits)
    accuracy = deployment_accuracy(ctx, dep, dep["id"], window_start(window), limits)
    status = accuracy["status"]
    before = _previous(ctx, dep["id"])
    if status == before:
        return None
    ctx.accuracy.last_status[dep["id"]] = status
    value = accuracy["metrics"].get(accuracy["metric"]) if accuracy["metric"] else None
    detail = f" ({accuracy['metric']} {value:.4g} over {accuracy['rowsUsed']} matched row(s))" if value is not None \
        else ""
    return record_event(ctx, ACCURACY_STATUS_CHANGED, status, f"accuracy {before} -> {status}{detail}",
                        deployment_id=dep["id"], data={"previous": before, "accuracy": accuracy,
                                                       "windowSec": window})


def _previous(ctx: ServiceContext, dep_id: str) -> str:
    from bosun_local.service.storage.base import EventFilter

    known = ctx.accuracy.last_status.get(dep_id)
    if known is None:
        events = ctx.storage.list_events(EventFilter(deployment_id=dep_id, types=(ACCURACY_STATUS_CHANGED,), limit=1))
        known = events[0]["status"] if events else "unknown"
        ctx.accuracy.last_status[dep_id] = known
    return known


def status_loop(ctx: ServiceContext, stop: threading.Event, interval_sec: float) -> None:
    """Re-check the accuracy status of changed deployments every interval, and of all of them every minute."""
    next_full = 0.0
    while not stop.is_set():
        # New joins wake it; so does the stop (Workers.stop sets every wake event).
        ctx.accuracy.wake.wait(interval_sec)
        ctx.accuracy.wake.clear()
        if stop.is_set():
            return
        # Let a burst of ingests land first: one evaluation covers them all.
        stop.wait(min(interval_sec, 0.5))
        dirty = ctx.accuracy.take_dirty()
        full = time.monotonic() >= next_full
        if full:
            next_full = time.monotonic() + FULL_CHECK_SEC
        started = time.monotonic()
        try:
            for dep in ctx.storage.list_deployments():
                if full or dep["id"] in dirty:
                    check_status(ctx, dep)
        except Exception:  # a locked database or a bad row must not end the loop
            log.exception("accuracy status check failed")
        # While actuals stream in every deployment stays dirty: keep this loop to a tenth of a core.
        stop.wait(9 * (time.monotonic() - started))
