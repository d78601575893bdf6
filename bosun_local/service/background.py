"""Background threads of the service: retention purge, webhook delivery, accuracy status and canary schedules."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from bosun_local.service.accuracy_status import status_loop
from bosun_local.service.canary import canary_loop
from bosun_local.service.context import ServiceContext
from bosun_local.service.events import record_event
from bosun_local.service.notifications import Notifier
from bosun_local.service.timeutil import iso, minute_iso, utcnow

log = logging.getLogger(__name__)
DEFAULT_ASSOCIATION_RETENTION_DAYS = 90.0


def retention_days(ctx: ServiceContext) -> float:
    """Return the event retention: the service setting when set, else config key eventRetentionDays."""
    stored = ctx.storage.get_setting("eventRetentionDays")
    return float(stored if stored is not None else ctx.config["eventRetentionDays"])


def association_retention_days(ctx: ServiceContext) -> float:
    """Return how long stored predictions wait for actuals (setting associationRetentionDays, default 90)."""
    stored = ctx.storage.get_setting("associationRetentionDays")
    return float(stored if stored is not None else DEFAULT_ASSOCIATION_RETENTION_DAYS)


def purge_once(ctx: ServiceContext, older_than_days: float | None = None) -> int:
    """Delete events and monitoring minutes older than the retention; record what went; return the event count."""
    days = retention_days(ctx) if older_than_days is None else older_than_days
    moment = utcnow() - timedelta(days=days)
    before = iso(moment)
    removed = ctx.storage.purge_events(before)
    minutes = ctx.storage.purge_figures(minute_iso(moment))
    association_days = association_retention_days(ctx) if older_than_days is None else older_than_days
    associations = ctx.storage.purge_associations(iso(utcnow() - timedelta(days=association_days)))
    if associations:
        log.info("retention purge removed %d stored prediction(s)/actual(s) older than %g day(s)", associations,
                 association_days)
    if removed or minutes:
        record_event(ctx, "events_purged", "info", f"retention purge removed {removed} event(s) and {minutes} "
                     f"minute(s) of monitoring figures older than {days:g} day(s)",
                     data={"removed": removed, "figureMinutes": minutes, "before": before, "retentionDays": days})
    return removed


@dataclass
class Workers:
    """The running background threads and the flag that stops them."""

    wakes: list[threading.Event]
    stop_flag: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask every thread to finish and wait a bounded time for each."""
        self.stop_flag.set()
        for wake in self.wakes:
            wake.set()
        for thread in self.threads:
            thread.join(timeout)


def _purge_loop(ctx: ServiceContext, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            purge_once(ctx)
        except Exception:  # keep purging on later rounds even if one round hits a locked database
            log.exception("retention purge failed")
        stop.wait(ctx.limits.purge_interval_sec)


def start(ctx: ServiceContext) -> Workers:
    """Start the purge, notifier, accuracy-status and canary threads."""
    workers = Workers(wakes=[ctx.wake_notifier, ctx.accuracy.wake])
    notifier = Notifier(ctx, workers.stop_flag)
    for name, target in (("bosun-purge", lambda: _purge_loop(ctx, workers.stop_flag)),
                         ("bosun-notifier", notifier.run),
                         ("bosun-accuracy", lambda: status_loop(ctx, workers.stop_flag,
                                                                ctx.limits.accuracy_interval_sec)),
                         ("bosun-canary", lambda: canary_loop(ctx, workers.stop_flag, ctx.limits.canary_interval_sec))):
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        workers.threads.append(thread)
    return workers
