"""The service's Prometheus metrics: API requests, actions, events, and each deployment's monitoring figures."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bosun_local.contracts.states import HEALTH_STATUSES, QueueStatus
from bosun_local.metrics.exposition import Counters, Exposition, Histograms, process_families, status_class

if TYPE_CHECKING:
    from bosun_local.service.context import ServiceContext

# Feature PSI series per deployment: the most drifted ones, so a 500-column model cannot flood Prometheus.
MAX_FEATURE_LABELS = 20
# Window of the per-deployment figures: the dashboard's default, so Prometheus and the table agree.
FIGURES_WINDOW_SEC = 3600
# Thresholds exported beside the figures, so alerting rules compare against the deployment's own limits.
THRESHOLD_KEYS = ("errorRateWarn", "errorRateFail", "userErrorRateWarn", "userErrorRateFail", "latencyP95WarnMs",
                  "latencyP95FailMs")


class ServiceMetrics:
    """Counters the service updates as it works; everything else is read from storage at scrape time."""

    def __init__(self) -> None:
        self.requests = Counters()  # (route, method, code class)
        self.durations = Histograms()  # (route, method)
        self.actions = Counters()  # (type, outcome)
        self.events = Counters()  # (type, status)

    def event(self, type_: str, status: str) -> None:
        """Count a recorded event."""
        self.events.inc((type_, status))

    def action(self, type_: str, outcome: str) -> None:
        """Count a finished action."""
        self.actions.inc((type_, outcome))


class RequestMetricsMiddleware:
    """Count every API request by its route template (bounded), method and status class."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            # The route's template (/api/v1/deployments/{ref}), never the raw path: ids must not become labels.
            name = getattr(route, "path", None) or "other"
            method = scope["method"]
            self.metrics.requests.inc((name, method, status_class(status)))
            self.metrics.durations.observe((name, method), time.perf_counter() - started)


def render(ctx: ServiceContext) -> bytes:
    """Render the service's families (reads storage: called per scrape, never per request)."""
    metrics: ServiceMetrics = ctx.metrics
    out = Exposition()
    out.counter("bosun_service_http_requests_total", "API requests answered, by route template, method and status "
                "class.", metrics.requests.samples(("route", "method", "code")))
    out.histogram("bosun_service_http_request_duration_seconds", "API request durations, in seconds.",
                  metrics.durations.bounds, metrics.durations.samples(("route", "method")))
    out.counter("bosun_service_actions_finished_total", "Actions the agents finished, by type and outcome.",
                metrics.actions.samples(("type", "outcome")))
    open_actions = ctx.storage.list_actions(statuses=QueueStatus.OPEN, limit=1_000_000)
    depth: dict[str, int] = {s: 0 for s in QueueStatus.OPEN}
    for action in open_actions:
        depth[action["status"]] = depth.get(action["status"], 0) + 1
    out.gauge("bosun_service_actions_queued", "Actions waiting for an agent (pending) or held by one (claimed).",
              [({"status": status}, count) for status, count in sorted(depth.items())])
    out.counter("bosun_service_events_total", "Events recorded, by type and status.",
                metrics.events.samples(("type", "status")))
    _deployment_families(ctx, out)
    process_families(out)
    return out.text()


def _deployment_families(ctx: ServiceContext, out: Exposition) -> None:
    from bosun_local.service.stats import compute_stats, thresholds_for

    deployments = ctx.storage.list_deployments()
    figures: list[tuple[dict[str, str], dict[str, Any], dict[str, float]]] = []
    for dep in deployments:
        labels = {"deployment": dep["id"], "name": str(dep.get("name") or "")}
        figures.append((labels, compute_stats(ctx, dep["id"], FIGURES_WINDOW_SEC), thresholds_for(ctx, dep)))
    out.gauge("bosun_deployment_info", "1 per live deployment, labelled with its state and model.",
              [({"deployment": d["id"], "name": str(d.get("name") or ""), "state": str(d.get("state") or ""),
                 "model": str(d.get("packageId") or "")}, 1) for d in deployments])
    for name, key, help_text in (
            ("bosun_deployment_service_health", "serviceHealth", "Service health the monitoring figures give"),
            ("bosun_deployment_drift_status", "drift", "Drift status"),
            ("bosun_deployment_accuracy_status", "accuracy", "Accuracy status")):
        samples = []
        for labels, stats, _ in figures:
            value = stats.get(key)
            current = value.get("status", "unknown") if isinstance(value, dict) else (value or "unknown")
            samples += [({**labels, "status": s}, int(s == current)) for s in HEALTH_STATUSES]
        out.gauge(name, f"{help_text} over the last hour: 1 for the current status, 0 for the others.", samples)
    out.gauge("bosun_deployment_predictions", "Predictions (rows scored) reported over the last hour.",
              [(labels, stats["predictions"]) for labels, stats, _ in figures])
    out.gauge("bosun_deployment_errors", "Requests that failed over the last hour (user and system errors).",
              [(labels, stats["userErrors"] + stats["systemErrors"]) for labels, stats, _ in figures])
    out.gauge("bosun_deployment_error_ratio", "Failed requests over all requests in the last hour.",
              [(labels, stats["errorRate"]) for labels, stats, _ in figures if stats["errorRate"] is not None])
    # The service grades system errors against errorRate* and user errors against userErrorRate*.
    for name, key, what in (("bosun_deployment_system_error_ratio", "systemErrorRate", "System errors (5xx)"),
                            ("bosun_deployment_user_error_ratio", "userErrorRate", "User errors (4xx)")):
        out.gauge(name, f"{what} over all requests in the last hour.",
                  [(labels, stats[key]) for labels, stats, _ in figures if stats.get(key) is not None])
    out.gauge("bosun_deployment_latency_p95_seconds", "95th percentile of reported latency over the last hour.",
              [(labels, stats["latencyP95Ms"] / 1000.0) for labels, stats, _ in figures
               if stats["latencyP95Ms"] is not None])
    out.gauge("bosun_deployment_threshold", "The deployment's service-health thresholds (ratios; latency in "
              "seconds), for alerting rules to compare against.",
              [({**labels, "threshold": key}, limits[key] / (1000.0 if key.endswith("Ms") else 1.0))
               for labels, _, limits in figures for key in THRESHOLD_KEYS])
    out.gauge("bosun_deployment_prediction_drift_psi", "PSI of the predictions against the training baseline.",
              [(labels, stats["drift"]["prediction"]) for labels, stats, _ in figures
               if stats["drift"].get("prediction") is not None])
    feature_samples = []
    for labels, stats, _ in figures:
        known = [(f, v) for f, v in (stats["drift"].get("features") or {}).items() if v is not None]
        top = sorted(known, key=lambda item: (-item[1], item[0]))[:MAX_FEATURE_LABELS]
        feature_samples += [({**labels, "feature": f}, v) for f, v in sorted(top)]
    out.gauge("bosun_deployment_feature_drift_psi", f"PSI of a feature against the training baseline (the "
              f"{MAX_FEATURE_LABELS} most drifted features of each deployment).", feature_samples)
