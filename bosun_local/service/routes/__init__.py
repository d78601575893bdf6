"""API routers, one module per resource."""
from __future__ import annotations

from fastapi import APIRouter

from bosun_local.service.routes import health

ROUTERS: list[APIRouter] = [health.router]
