"""`/api/v1/settings`: service-wide health/drift thresholds and event retention."""
from __future__ import annotations

from fastapi import APIRouter

from bosun_local.service.api_errors import invalid
from bosun_local.service.background import association_retention_days, retention_days
from bosun_local.service.models import SettingsOut, SettingsPatch
from bosun_local.service.routes.deps import AUTH, Ctx
from bosun_local.service.stats import DEFAULT_THRESHOLDS, OPTIONAL_THRESHOLDS, service_thresholds
from bosun_local.service.storage.base import Row

router = APIRouter(prefix="/api/v1/settings", tags=["settings"], dependencies=AUTH)


@router.get("", response_model=SettingsOut)
def get_settings(ctx: Ctx) -> Row:
    """Return the thresholds and the event retention in force."""
    return {"thresholds": service_thresholds(ctx), "eventRetentionDays": retention_days(ctx),
            "associationRetentionDays": association_retention_days(ctx)}


@router.patch("", response_model=SettingsOut)
def update_settings(ctx: Ctx, body: SettingsPatch) -> Row:
    """Change thresholds (health, latency, drift per metric, accuracy) and retentions."""
    if body.thresholds is not None:
        known = set(DEFAULT_THRESHOLDS) | OPTIONAL_THRESHOLDS
        unknown = sorted(set(body.thresholds) - known)
        if unknown:
            raise invalid(f"unknown threshold(s): {', '.join(unknown)}", f"use {', '.join(sorted(known))}")
        merged = {**service_thresholds(ctx), **body.thresholds}
        # Accuracy thresholds have no fixed order: higher is better for AUC, lower for LogLoss.
        for kind in ("errorRate", "userErrorRate", "latencyP95", "drift", "jsd", "hellinger"):
            warn_key = next(k for k in merged if k.startswith(kind) and "Warn" in k)
            fail_key = next(k for k in merged if k.startswith(kind) and "Fail" in k)
            if not 0 <= merged[warn_key] <= merged[fail_key]:
                raise invalid(f"threshold {warn_key}={merged[warn_key]:g} must be >= 0 and <= "
                              f"{fail_key}={merged[fail_key]:g}", "give a warning level below the failing level")
        ctx.storage.put_setting("thresholds", merged)
    if body.eventRetentionDays is not None:
        ctx.storage.put_setting("eventRetentionDays", body.eventRetentionDays)
    if body.associationRetentionDays is not None:
        ctx.storage.put_setting("associationRetentionDays", body.associationRetentionDays)
    return get_settings(ctx)
