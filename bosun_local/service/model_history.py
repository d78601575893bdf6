"""Model history: every model a deployment has served, with when and why it changed; rollback to one of them."""
from __future__ import annotations

from typing import Any

from bosun_local.service.api_errors import conflict, invalid
from bosun_local.service.context import ServiceContext
from bosun_local.service.packages import resolve_package
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import now_iso

# Why a model change happened (the `reason` of a replace action and of a history entry).
REASONS = ("created", "replace", "rollback", "challenger_promoted", "canary_promoted", "canary_auto_promoted")


def first_entry(model_id: str, when: str) -> Row:
    """Return the history entry of the model a deployment is created with."""
    return {"modelId": model_id, "since": when, "until": None, "reason": "created", "actionId": None}


def history_of(dep: Row) -> list[Row]:
    """Return a deployment's model history, oldest first (synthesised for deployments made before it existed)."""
    entries = dep.get("modelHistory")
    if entries:
        return [dict(e) for e in entries]
    return [first_entry(dep["packageId"], dep["createdAt"])]


def advanced(dep: Row, model_id: str, reason: str, action_id: str | None) -> list[Row]:
    """Return the history after the deployment switched to a model: the current entry closed, a new one open."""
    entries = history_of(dep)
    if entries and entries[-1]["modelId"] == model_id and entries[-1]["until"] is None:
        return entries  # a repeated completion of the same switch
    when = now_iso()
    if entries and entries[-1]["until"] is None:
        entries[-1]["until"] = when
    entries.append({"modelId": model_id, "since": when, "until": None, "reason": reason, "actionId": action_id})
    return entries


def described(ctx: ServiceContext, dep: Row) -> list[Row]:
    """Return the history with each model's package name (None when the package is gone), oldest first."""
    rows = []
    for entry in history_of(dep):
        package = ctx.storage.get_package(entry["modelId"])
        rows.append({**entry, "packageName": package["name"] if package else None,
                     "current": entry["until"] is None and entry["modelId"] == dep["packageId"]})
    return rows


def rollback_target(ctx: ServiceContext, dep: Row, to: str | None) -> str:
    """Return the package id a rollback goes to: `to` (a model the deployment served) or the previous model."""
    entries = history_of(dep)
    served = [e["modelId"] for e in entries]
    if to is None:
        earlier = [m for m in served[:-1] if m != dep["packageId"]]
        if not earlier:
            raise conflict(f"deployment {dep['name']} has only ever served model {dep['packageId']}: "
                           "there is no earlier model to roll back to",
                           "replace its model first, or name one with --to")
        return earlier[-1]
    package = resolve_package(ctx, to)
    if package["id"] not in served:
        raise invalid(f"deployment {dep['name']} never served model {package['name']} ({package['id']}); "
                      f"it served {', '.join(dict.fromkeys(served))}",
                      "see `bosun-local deployments history`, or use replace-model for a new model")
    if package["id"] == dep["packageId"]:
        raise conflict(f"deployment {dep['name']} already serves model {package['name']} ({package['id']})",
                       "name an earlier model with --to")
    return str(package["id"])


def replace_reason(params: dict[str, Any]) -> str:
    """Return why a replace action was queued (plain replacements carry no reason)."""
    reason = params.get("reason")
    return str(reason) if reason in REASONS else "replace"
