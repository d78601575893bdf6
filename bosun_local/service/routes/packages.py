"""`/api/v1/packages`: register (multipart upload), list, show, baseline."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from bosun_local.service.api_errors import ApiError
from bosun_local.service.long_poll import long_poll
from bosun_local.service.models import (
    BaselineOut,
    PackageCheckClaimIn,
    PackageCheckClaimOut,
    PackageCheckResultIn,
    PackageOut,
)
from bosun_local.service.package_checks import claim_check, record_check
from bosun_local.service.packages import register_package, resolve_package
from bosun_local.service.routes.deps import AUTH, Ctx, errors

router = APIRouter(prefix="/api/v1/packages", tags=["packages"], dependencies=AUTH)


@router.post("", response_model=PackageOut, status_code=201,
             responses=errors(e413="archive or training data over the size limit",
                              e422="invalid archive, model.yaml or training data"))
def create_package(ctx: Ctx, archive: Annotated[UploadFile, File(description="the package as .tar.gz")],
                   name: Annotated[str | None, Form(max_length=100)] = None,
                   trainingData: Annotated[UploadFile | None, File(description="training CSV")] = None) -> dict:
    """Register a model package from a .tar.gz upload, with an optional training CSV for drift baselines."""
    filename = archive.filename or "upload.tar.gz"
    training = trainingData if trainingData is not None and trainingData.filename else None
    return register_package(ctx, archive.file, filename, name, training.file if training else None,
                            training.filename if training else None)


@router.post("/checks/claim", response_model=PackageCheckClaimOut | None)
async def claim_package_check(ctx: Ctx, body: PackageCheckClaimIn, request: Request) -> dict | None:
    """Claim the oldest pending package check (agents: run it in a sandbox container), or null when none."""
    # Registering a package records an event, which wakes this wait; only expired check leases need the recheck.
    return await long_poll(ctx.changes, lambda: claim_check(ctx, body.agentId), body.waitSec,
                           request.is_disconnected, recheck_sec=5.0)


@router.post("/{ref}/check", response_model=PackageOut, responses=errors(e404="no such package",
                                                                       e422="the result is not valid"))
def post_package_check(ctx: Ctx, ref: str, body: PackageCheckResultIn) -> dict:
    """Record the result of a package's sandboxed check: validated, then stored with the prediction baseline."""
    return record_check(ctx, resolve_package(ctx, ref), body.model_dump())


@router.get("", response_model=list[PackageOut])
def list_packages(ctx: Ctx) -> list[dict]:
    """List registered packages, newest first."""
    return ctx.storage.list_packages()


@router.get("/{ref}", response_model=PackageOut, responses=errors(e404="no such package"))
def get_package(ctx: Ctx, ref: str) -> dict:
    """Show a package by id or name (the newest of that name)."""
    return resolve_package(ctx, ref)


@router.get("/{ref}/baseline", response_model=BaselineOut,
            responses=errors(e404="no package or baseline"))
def get_package_baseline(ctx: Ctx, ref: str) -> dict:
    """Return a package's drift baseline."""
    package = resolve_package(ctx, ref)
    baseline = ctx.storage.get_baseline(package["id"])
    if baseline is None:
        raise ApiError(404, f"package {package['name']} ({package['id']}) has no training data, so no baseline",
                       "register it again with --training-data CSV")
    return baseline
