"""`/health`: open liveness probe."""
from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from bosun_local import __version__
from bosun_local.service.routes.deps import Ctx

router = APIRouter()


class Health(BaseModel):
    """Liveness answer."""

    status: str
    version: str
    schemaVersion: int


@router.get("/health", response_model=Health, tags=["health"])
def health(ctx: Ctx) -> Health:
    """Report that the service runs and its database answers."""
    return Health(status="ok", version=__version__, schemaVersion=ctx.storage.schema_version())
