"""Which token scopes may call which route: one table, read before routing; unknown writes are admin-only."""
from __future__ import annotations

import re

ANY_SCOPE = frozenset({"admin", "deployer", "reader", "reporter", "agent"})
READ_METHODS = frozenset({"GET", "HEAD"})
_DEP = r"[^/]+"

# (methods, path pattern, scopes besides admin). First match wins; a write route matching none is admin-only,
# so a route added later is closed until someone decides who may call it.
RULES: list[tuple[frozenset[str], re.Pattern[str], frozenset[str]]] = [
    (frozenset({"GET"}), re.compile(rf"^/api/v1/deployments/{_DEP}/action-config$"), frozenset({"agent"})),
    (READ_METHODS, re.compile(r"^/"), ANY_SCOPE),
    # Monitoring ingest: the monitoring agent and instrumented apps (reporter); actuals also from deployers; and the
    # management agent, which counts the requests traefik failed without a PPS (agent/route_errors.py).
    (frozenset({"POST"}), re.compile(r"^/api/v1/monitoring/ingest$"), frozenset({"reporter", "agent"})),
    (frozenset({"POST"}), re.compile(
        rf"^/api/v2/deployments/{_DEP}/(predictionRequests|predictionInputs|predictionStats|actuals"
        rf"|customMetrics/{_DEP})/fromJSON/$"), frozenset({"reporter", "deployer"})),
    (frozenset({"POST"}), re.compile(rf"^/api/v1/deployments/{_DEP}/actuals$"), frozenset({"reporter", "deployer"})),
    (frozenset({"POST"}), re.compile(r"^/api/v2/remoteEvents/$"), frozenset({"reporter", "agent"})),
    (frozenset({"POST"}), re.compile(r"^/api/v1/events$"), frozenset({"reporter", "agent"})),
    (frozenset({"POST"}), re.compile(r"^/api/v1/agents/heartbeat$"), frozenset({"reporter", "agent"})),
    # The management agent: its action queue, deployment status, environment health, package checks.
    (frozenset({"POST"}), re.compile(rf"^/api/v1/actions/(claim|release|{_DEP}/(renew|complete))$"),
     frozenset({"agent"})),
    (frozenset({"PATCH"}), re.compile(rf"^/api/v1/deployments/{_DEP}/status$"), frozenset({"agent"})),
    (frozenset({"PUT"}), re.compile(rf"^/api/v1/environment/{_DEP}$"), frozenset({"agent"})),
    (frozenset({"POST"}), re.compile(rf"^/api/v1/packages/(checks/claim|{_DEP}/check)$"), frozenset({"agent"})),
    # Deployers: packages and deployments (environments, notifications and settings stay admin's).
    (frozenset({"POST"}), re.compile(r"^/api/v1/packages$"), frozenset({"deployer"})),
    (frozenset({"POST"}), re.compile(r"^/api/v1/deployments$"), frozenset({"deployer"})),
    (frozenset({"DELETE"}), re.compile(rf"^/api/v1/deployments/{_DEP}$"), frozenset({"deployer"})),
    (frozenset({"POST", "DELETE"}), re.compile(
        rf"^/api/v1/deployments/{_DEP}/(replace-model|stop|start|relaunch|rollback|challengers|canary)(/[^/]+)*$"),
     frozenset({"deployer"})),
    # Replicas: deployers, and the management agent's autoscaler (agent/autoscaler.py).
    (frozenset({"POST"}), re.compile(rf"^/api/v1/deployments/{_DEP}/scale$"), frozenset({"deployer", "agent"})),
    (frozenset({"POST"}), re.compile(r"^/api/v2/batchPredictions/$"), frozenset({"deployer"})),
]


def allowed_scopes(method: str, path: str) -> frozenset[str]:
    """Return the scopes that may call a route (admin always may)."""
    for methods, pattern, scopes in RULES:
        if method in methods and pattern.match(path):
            return scopes | {"admin"}
    return frozenset({"admin"})
