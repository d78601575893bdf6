"""`/api/v1/deployments/{ref}/actuals`: batch labels joined to the predictions stored under their association ids."""
from __future__ import annotations

from fastapi import APIRouter

from bosun_local.service.accuracy_status import mark_changed
from bosun_local.service.deployments import resolve_deployment
from bosun_local.service.monitoring_models import ActualsUploadIn, ActualsUploadOut
from bosun_local.service.routes.deps import AUTH, Ctx, errors
from bosun_local.service.routes.fast_json import OrjsonRoute
from bosun_local.service.routes.monitoring import check_actual_times
from bosun_local.service.storage.base import Row

router = APIRouter(prefix="/api/v1/deployments", tags=["monitoring"], dependencies=AUTH,
                   route_class=OrjsonRoute)


@router.post("/{ref}/actuals", response_model=ActualsUploadOut,
             responses=errors(e404="no such deployment", e422="an actual is invalid"))
def upload_actuals(ctx: Ctx, ref: str, body: ActualsUploadIn) -> Row:
    """Store actuals (the first per association id counts; repeats are duplicates) and say how many matched."""
    dep = resolve_deployment(ctx, ref)
    check_actual_times(body.data, "data")
    ids = [str(a.associationId) for a in body.data]
    stored, duplicates = ctx.storage.store_actual_columns(dep["id"], {
        "associationIds": ids, "actualValues": [a.actualValue for a in body.data],
        "timestamps": [a.timestamp for a in body.data], "wasActedOn": [a.wasActedOn for a in body.data]})
    mark_changed(ctx, [dep["id"]])
    return {"deploymentId": dep["id"], "received": len(ids), "stored": stored, "duplicates": duplicates,
            "matched": ctx.storage.matched_count(dep["id"], ids)}
