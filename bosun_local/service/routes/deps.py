"""Dependencies shared by routers: the service context and the bearer scheme shown in the OpenAPI spec."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from bosun_local.service.context import ServiceContext
from bosun_local.service.models import ErrorOut

# Enforcement happens in BearerAuthMiddleware; this only documents the scheme for clients and schemathesis.
bearer = HTTPBearer(auto_error=False, description="The token from `<data dir>/token`.")
AUTH = [Depends(bearer)]


def get_ctx(request: Request) -> ServiceContext:
    """Return the running service's context."""
    return request.app.state.ctx


Ctx = Annotated[ServiceContext, Depends(get_ctx)]


def errors(**codes: str) -> dict[int | str, dict[str, Any]]:
    """Return OpenAPI `responses` for error codes given as `e404="why"` (body: `{"detail": str}`)."""
    return {int(code[1:]): {"model": ErrorOut, "description": text} for code, text in codes.items()}
