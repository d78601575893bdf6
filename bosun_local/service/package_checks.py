"""Package checks: package code runs only in a sandbox container an agent starts; its result comes back as data.

Registration leaves a package `pending`. A management agent with the engine claims the check, loads the package
and scores its training rows in a throwaway container (no network, no secrets, read-only), and posts what came
out. That output is untrusted (the model's own code may have written it): it is validated here before it
replaces the target-based prediction baseline, and a package that failed to load is refused at deploy time.
"""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from bosun_local.model_package import load_spec
from bosun_local.pps.sandbox_check import MAX_SCORED_ROWS
from bosun_local.service.api_errors import invalid
from bosun_local.service.baseline import model_prediction_bins
from bosun_local.service.context import ServiceContext
from bosun_local.service.events import record_event
from bosun_local.service.storage.base import Row
from bosun_local.service.timeutil import now_iso

CLAIM_LEASE_SEC = 300.0  # longer than a check may run (the agent's time limit), so two agents never both run one
MAX_ERROR_CHARS = 2000


def _expired(check: dict[str, Any]) -> bool:
    until = check.get("leaseUntil")
    return not until or datetime.fromisoformat(until) < datetime.now(UTC)


def claim_check(ctx: ServiceContext, agent_id: str) -> Row | None:
    """Hand the oldest pending package check to an agent (leased), or None when there is none."""
    with ctx.storage.transaction():
        for package in reversed(ctx.storage.list_packages()):
            check = package.get("check") or {}
            if check.get("status") == "pending" or (check.get("status") == "running" and _expired(check)):
                until = (datetime.now(UTC) + timedelta(seconds=CLAIM_LEASE_SEC)).isoformat()
                ctx.storage.update_package(package["id"], {"check": {
                    "status": "running", "agentId": agent_id, "leaseUntil": until}})
                return {"packageId": package["id"], "path": package["path"], "modelFile": package["modelFile"],
                        "trainingData": package.get("trainingData"), "targetType": package["targetType"]}
    return None


def _checked_predictions(package: Row, raw: Any) -> list[Any] | None:
    """Return the sandbox's predictions if they are what this package can predict; 422 otherwise."""
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) > MAX_SCORED_ROWS:
        raise invalid(f"package check result for {package['id']}: predictions must be a list of at most "
                      f"{MAX_SCORED_ROWS} values", "post what bosun_local.pps.sandbox_check printed")
    if package["targetType"] == "regression":
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in raw):
            raise invalid(f"package check result for {package['id']}: a regression model's predictions must be "
                          "finite numbers", "post what bosun_local.pps.sandbox_check printed")
        return raw
    classes = {str(c) for c in package.get("classNames") or []}
    if not all(isinstance(v, (str, int, float, bool)) and str(v) in classes for v in raw):
        raise invalid(f"package check result for {package['id']}: predictions must be among the classNames",
                      "post what bosun_local.pps.sandbox_check printed")
    return [str(v) for v in raw]


def record_check(ctx: ServiceContext, package: Row, result: dict[str, Any]) -> Row:
    """Store a sandbox check's validated result: ok (with the model's prediction baseline) or failed."""
    ok = bool(result.get("ok"))
    error = str(result.get("error") or "")[:MAX_ERROR_CHARS] or None
    predictions = _checked_predictions(package, result.get("predictions")) if ok else None
    baseline = None
    if predictions:
        current = ctx.storage.get_baseline(package["id"])
        if current is not None:
            bins = model_prediction_bins(load_spec(package["path"]), predictions)
            baseline = {**current, "prediction": bins}
    check = {"status": "ok" if ok else "failed", "error": None if ok else error or "the package did not load",
             "checkedAt": now_iso(), "predictionBaseline": "model" if baseline else "target"}
    updated = ctx.storage.update_package(package["id"], {"check": check, "hasBaseline": bool(
        baseline or package.get("hasBaseline"))}, baseline)
    if ok:
        record_event(ctx, "package_checked", "info", f"model package {package['name']} ({package['id']}) loaded "
                     "in the sandbox" + (", prediction baseline from its own predictions" if baseline else ""),
                     data={"packageId": package["id"]})
    else:
        record_event(ctx, "package_check_failed", "error", f"model package {package['name']} ({package['id']}) "
                     f"failed to load in the sandbox: {check['error']}", data={"packageId": package["id"]})
    return updated


def refuse_failed(package: Row) -> None:
    """Raise 422 when a package failed its sandbox check: deploying it would only heal-loop."""
    check = package.get("check") or {}
    if check.get("status") == "failed":
        raise invalid(f"model package {package['name']} ({package['id']}) failed its load check: {check.get('error')}",
                      "fix the model file and register the package again")
