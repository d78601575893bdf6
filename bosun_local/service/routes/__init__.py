"""API routers, one module per resource."""
from __future__ import annotations

from fastapi import APIRouter

from bosun_local.service.routes import (
    actions,
    actuals,
    agents,
    datarobot,
    deployments,
    environment,
    environments,
    events,
    health,
    metrics,
    mlops_api,
    monitoring,
    notifications,
    packages,
    settings,
    stats,
    traffic,
)

ROUTERS: list[APIRouter] = [health.router, packages.router, environments.router, deployments.router, actions.router,
                            events.router, agents.router, notifications.router, monitoring.router, settings.router,
                            stats.router, environment.router, traffic.router,
                            datarobot.router, actuals.router, mlops_api.router, metrics.router]
