"""Recording events: stored, then matched against notification rules into the webhook outbox (same transaction)."""
from __future__ import annotations

from typing import Any

from bosun_local.service.context import ServiceContext
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import new_id, now_iso

# Notification failures are never notified themselves: a dead webhook must not feed on its own failures.
UNNOTIFIED_TYPES = frozenset({"notification_failed"})


def rule_matches(rule: Row, event: Row) -> bool:
    """Return True if a notification rule wants an event."""
    if not rule.get("enabled", True) or event["type"] in UNNOTIFIED_TYPES:
        return False
    if rule.get("types") and event["type"] not in rule["types"]:
        return False
    if rule.get("statuses") and event["status"] not in rule["statuses"]:
        return False
    return not (rule.get("deploymentId") and rule["deploymentId"] != event.get("deploymentId"))


def record_event(ctx: ServiceContext, type_: str, status: str, message: str, deployment_id: str | None = None,
                 environment_id: str | None = None, data: dict[str, Any] | None = None,
                 time: str | None = None) -> Row:
    """Store an event and queue its webhook deliveries; never waits for a webhook."""
    event = {"id": new_id(), "time": time or now_iso(), "deploymentId": deployment_id,
             "environmentId": environment_id, "type": type_, "status": status, "message": message,
             "data": data or {}}
    queued = 0
    with ctx.storage.transaction():
        ctx.storage.insert_event(event)
        for rule in ctx.storage.list_rules():
            if rule_matches(rule, event):
                ctx.storage.insert_delivery({"id": new_id(), "ruleId": rule["id"], "url": rule["url"],
                                             "status": "pending", "attempts": 0, "nextAttemptAt": now_iso(),
                                             "event": event, "lastError": None})
                queued += 1
    ctx.metrics.event(type_, status)
    ctx.changes.bump()
    if queued:
        ctx.wake_notifier.set()
    return event
