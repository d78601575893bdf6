"""The PPS's Prometheus metrics: a few integer adds per request, the text rendered only when /metrics is scraped."""
from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

from bosun_local.metrics.exposition import CONTENT_TYPE, DURATION_BUCKETS, Exposition, process_families
from bosun_local.pps.datarobot_routes import PREDAPI_PREFIX
from bosun_local.pps.http import Response
from bosun_local.pps.registry import SingleRegistry

if TYPE_CHECKING:
    from bosun_local.pps.app import PPSApp

# Bounds in nanoseconds, so observing a request compares integers (perf_counter_ns) and never divides.
BOUNDS_NS = tuple(int(b * 1e9) for b in DURATION_BUCKETS)
# Route labels: a fixed set, so a client sending odd paths cannot grow the series.
ROUTES = {"/predictions": "/predictions", "/predict": "/predict", "/ping": "/ping", "/health": "/health",
          "/info": "/info", "/metrics": "/metrics", "/predictionsUnstructured": "/predictionsUnstructured",
          "/predictUnstructured": "/predictUnstructured", "/predApi/predictions": "/predApi/predictions",
          "/predApi/predictionsUnstructured": "/predApi/predictionsUnstructured"}
PATH_CACHE_MAX = 4096
CODE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
METRICS_PATH = "/metrics"
# Exported from 0 (Prometheus' "avoid missing metrics"): a series first scraped at its final value shows rate() no
# increase, so a deployment's first burst would be lost to the recording rules. Every served deployment has its
# /predictions series from the start, and every series its success and error classes.
ZERO_ROUTE = "/predictions"
ZERO_CODES = (2, 4, 5)


class Series:
    """One (deployment, route) pair: responses by status class, duration buckets and their sum."""

    __slots__ = ("deployment", "route", "codes", "buckets", "sum_ns")

    def __init__(self, deployment: str, route: str) -> None:
        self.deployment = deployment
        self.route = route
        self.codes = [0] * 6  # index status // 100; 0 is never used
        self.buckets = [0] * (len(BOUNDS_NS) + 1)
        self.sum_ns = 0


def route_label(path: str) -> str:
    """Return the bounded route label of a path without its /deployments/<id> prefix."""
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    found = ROUTES.get(path)
    if found is not None:
        return found
    if path.startswith("/v2"):
        return "/v2/models/infer" if path.endswith("/infer") else "/v2"
    return "other"


class PPSMetrics:
    """Request figures of one PPS process; the event loop is the only writer, so no lock is needed."""

    def __init__(self, app: PPSApp) -> None:
        self.app = app
        self.in_flight = 0
        self._series: dict[tuple[str, str], Series] = {}
        self._by_path: dict[str, Series] = {}

    def series(self, path: str) -> Series:
        """Return the series a request path counts into (cached per path while the cache has room)."""
        found = self._by_path.get(path)
        if found is not None:
            return found
        deployment, rest, known = self._split(path)
        key = (deployment, route_label(rest))
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = Series(*key)
        if known and len(self._by_path) < PATH_CACHE_MAX:
            self._by_path[path] = found
        return found

    def _split(self, path: str) -> tuple[str, str, bool]:
        """Return (deployment label, path after the deployment prefix, whether the deployment is served here)."""
        if path.startswith(PREDAPI_PREFIX):
            deployment_id, _, action = path[len(PREDAPI_PREFIX):].partition("/")
            return self._known(deployment_id, "/predApi/" + action)
        if path.startswith("/deployments/"):
            deployment_id, _, rest = path[len("/deployments/"):].partition("/")
            return self._known(deployment_id, "/" + rest)
        registry = self.app.registry
        own = registry.deployment.deployment_id if isinstance(registry, SingleRegistry) else None
        return own or "", path, True

    def _known(self, deployment_id: str, rest: str) -> tuple[str, str, bool]:
        # An id this server does not serve gets no label of its own: it would let any client add series.
        if self.app.registry.get(deployment_id) is None:
            return "", rest, False
        return deployment_id, rest, True

    def record(self, path: str, status: int, elapsed_ns: int) -> None:
        """Count one finished request of a path (one call on the request path: the cached series inline)."""
        series = self._by_path.get(path) or self.series(path)
        series.codes[status // 100] += 1
        series.buckets[bisect_left(BOUNDS_NS, elapsed_ns)] += 1
        series.sum_ns += elapsed_ns

    def response(self, deployment_id: str | None) -> Response:
        """Return the exposition: every deployment's figures, or one deployment's at /deployments/<id>/metrics."""
        return Response(200, self.render(deployment_id), CONTENT_TYPE.encode())

    def render(self, deployment_id: str | None = None) -> bytes:
        """Render the PPS families, for one deployment when deployment_id is given."""
        out = Exposition()
        present = dict(self._series)
        for served in self.app.registry.all():
            key = (served.deployment_id or "", ZERO_ROUTE)
            present.setdefault(key, Series(*key))
        series = sorted((s for s in present.values() if deployment_id is None or s.deployment == deployment_id),
                        key=lambda s: (s.deployment, s.route))
        out.counter("bosun_pps_requests_total", "HTTP requests answered, by deployment, route and status class.",
                    [({"deployment": s.deployment, "route": s.route, "code": CODE_CLASSES[i - 1]}, count)
                     for s in series for i, count in enumerate(s.codes) if count or i in ZERO_CODES])
        out.histogram("bosun_pps_request_duration_seconds", "Time from request to full response, in seconds.",
                      DURATION_BUCKETS, [({"deployment": s.deployment, "route": s.route}, s.buckets, s.sum_ns / 1e9)
                                         for s in series])
        if deployment_id is None:
            out.gauge("bosun_pps_requests_in_flight", "Requests being answered now (this one included).",
                      [({}, self.in_flight)])
        self._deployment_families(out, deployment_id)
        self._monitoring_families(out)
        if deployment_id is None:
            process_families(out)
        return out.text()

    def _deployment_families(self, out: Exposition, deployment_id: str | None) -> None:
        deployments = [d for d in self.app.registry.all() if deployment_id is None or d.deployment_id == deployment_id]
        out.counter("bosun_pps_rows_scored_total", "Rows the deployment's current model scored since it loaded.",
                    [({"deployment": d.deployment_id or "", "model": d.model_id or ""},
                      self.app.stats.rows_scored(d.model)) for d in deployments if d.model is not None])
        out.gauge("bosun_pps_model_load_seconds", "Time the deployment's current model took to load, in seconds.",
                  [({"deployment": d.deployment_id or "", "model": d.model_id or ""}, d.load_sec)
                   for d in deployments if d.model is not None])
        out.gauge("bosun_pps_model_loaded", "1 when the deployment's model is loaded and serving, 0 when it failed.",
                  [({"deployment": d.deployment_id or "", "model": d.model_id or ""}, int(d.model is not None))
                   for d in deployments])

    def _monitoring_families(self, out: Exposition) -> None:
        reporter = self.app.reporter
        counts = reporter.counters() if reporter is not None else {}
        out.gauge("bosun_pps_monitoring_enabled", "1 when requests are reported to the monitoring spool.",
                  [({}, int(reporter is not None))])
        if reporter is None:
            return
        out.counter("bosun_pps_monitoring_records_submitted_total", "Request reports queued for the spool.",
                    [({}, counts["submitted"])])
        out.counter("bosun_pps_monitoring_records_reported_total", "Request reports handed to the spool.",
                    [({}, counts["reported"])])
        out.counter("bosun_pps_monitoring_records_dropped_total", "Request reports dropped: the queue was full.",
                    [({}, counts["dropped"])])
        out.counter("bosun_pps_monitoring_errors_total", "Failed deliveries to the spool.", [({}, counts["errors"])])
        out.gauge("bosun_pps_monitoring_records_queued", "Request reports waiting to be handed to the spool.",
                  [({}, counts["queued"])])
