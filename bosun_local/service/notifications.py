"""Webhook delivery: a background thread drains the outbox with retries and backoff, recording final failures."""
from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import httpx

from bosun_local.service.context import ServiceContext
from bosun_local.service.events import record_event
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import iso, now_iso, parse_time, utcnow

log = logging.getLogger(__name__)
# With no delivery pending the thread sleeps until record_event wakes it; this bounds the sleep anyway (a delivery
# another service replica queued on a shared database).
IDLE_WAIT_SEC = 30.0
LAST_TIME = "9999-12-31T23:59:59+00:00"
STATUS_ICON = {"passing": ":large_green_circle:", "warning": ":large_yellow_circle:",
               "failing": ":red_circle:", "unknown": ":white_circle:", "info": ":information_source:"}


def webhook_body(event: Row) -> dict[str, Any]:
    """Return the Slack-compatible body of an event (`text`), with the event itself for other receivers."""
    where = f" deployment {event['deploymentId']}" if event.get("deploymentId") else ""
    text = f"{STATUS_ICON.get(event['status'], '')} [{event['status']}] {event['type']}{where}: {event['message']}"
    return {"text": text.strip(), "event": event}


class Notifier:
    """Deliver queued webhooks until stopped; the caller that recorded the event never waits."""

    def __init__(self, ctx: ServiceContext, stop: threading.Event) -> None:
        self.ctx = ctx
        self.stop = stop
        self.client = httpx.Client(timeout=ctx.limits.webhook_timeout_sec, follow_redirects=False)

    def run(self) -> None:
        """Loop: deliver what is due, then sleep until woken (a new delivery) or the next retry is due."""
        try:
            while not self.stop.is_set():
                self.ctx.wake_notifier.clear()
                wait = 1.0
                try:
                    self.deliver_due()
                    wait = self.seconds_to_next()
                except Exception:  # a storage hiccup must not end deliveries for the service's lifetime
                    log.exception("webhook delivery round failed")
                self.ctx.wake_notifier.wait(wait)
        finally:
            self.client.close()

    def seconds_to_next(self) -> float:
        """Return how long nothing is due: until the earliest pending retry, at most IDLE_WAIT_SEC."""
        earliest = self.ctx.storage.due_deliveries(LAST_TIME, limit=1)
        if not earliest:
            return IDLE_WAIT_SEC  # a new delivery sets wake_notifier
        due = (parse_time(earliest[0]["nextAttemptAt"]) - utcnow()).total_seconds()
        return min(max(due, 0.05), 1.0)

    def deliver_due(self) -> None:
        """Attempt every delivery whose time has come."""
        for delivery in self.ctx.storage.due_deliveries(now_iso(), limit=50):
            if self.stop.is_set():
                return
            self.attempt(delivery)

    def attempt(self, delivery: Row) -> None:
        """POST one delivery; schedule a retry with exponential backoff or give up and record it."""
        attempts = delivery["attempts"] + 1
        try:
            response = self.client.post(delivery["url"], json=webhook_body(delivery["event"]))
            error = None if response.is_success else f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            self.ctx.storage.update_delivery(delivery["id"], {"status": "delivered", "attempts": attempts,
                                                              "nextAttemptAt": now_iso(), "lastError": None})
            return
        limits = self.ctx.limits
        if attempts < limits.webhook_max_attempts:
            delay = limits.webhook_backoff_sec * (2 ** (attempts - 1))
            self.ctx.storage.update_delivery(delivery["id"], {
                "attempts": attempts, "lastError": error, "nextAttemptAt": iso(utcnow() + timedelta(seconds=delay))})
            return
        self.ctx.storage.update_delivery(delivery["id"], {"status": "failed", "attempts": attempts,
                                                          "lastError": error, "nextAttemptAt": now_iso()})
        event = delivery["event"]
        record_event(self.ctx, "notification_failed", "warning",
                     f"webhook {delivery['url']} of notification rule {delivery['ruleId']} failed {attempts} times "
                     f"for event {event['id']} ({event['type']}): {error}",
                     deployment_id=event.get("deploymentId"), environment_id=event.get("environmentId"),
                     data={"ruleId": delivery["ruleId"], "url": delivery["url"], "eventId": event["id"],
                           "attempts": attempts, "error": error})
