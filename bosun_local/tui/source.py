"""Fetch one dashboard snapshot from the service through the typed client, within a request budget per poll."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bosun_local.client import ServiceClient, ServiceError
from bosun_local.contracts.names import terminal_safe, terminal_safe_doc
from bosun_local.errors import BosunError
from bosun_local.tui.health import environment_health
from bosun_local.tui.snapshot import Json, PollRequest, Snapshot

TABLE_WINDOW_SEC = 300
DETAIL_WINDOW_SEC = 3600
DETAIL_EVENTS = 15
# Per-deployment stats calls per poll when the service has no bulk stats route (an older service): the visible
# rows come first, the rest in turn, so 100 deployments cost a bounded number of requests each second.
STATS_BUDGET = 12
# Optional routes are probed again after this many polls (a newer service may have gained them).
PROBE_EVERY = 60
PACKAGES_EVERY = 10
ENVIRONMENT_ROUTE = "/api/v1/environment"
BULK_STATS_ROUTE = "/api/v1/stats"


class DashboardSource:
    """Poll the service: owns the client and what it learnt about optional routes; used by one worker at a time."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client
        self.polls = 0
        self._route_missing: dict[str, int] = {}
        self._stats_cursor = 0
        self._packages: dict[str, str] | None = None
        self._platforms: dict[str, str] | None = None

    @property
    def url(self) -> str:
        return self.client.url

    def _optional(self, path: str, call: Callable[[], Any]) -> Any:
        """Call a route an older service may lack; None (and no retry for a while) when it answers 404."""
        missing_since = self._route_missing.get(path)
        if missing_since is not None and self.polls - missing_since < PROBE_EVERY:
            return None
        try:
            result = call()
            self._route_missing.pop(path, None)
            return result
        except ServiceError as exc:
            if exc.status_code in (404, 405):
                self._route_missing[path] = self.polls
                return None
            raise

    def has_route(self, path: str) -> bool | None:
        """Return whether an optional route answered (None when not probed yet)."""
        if path in self._route_missing:
            return False
        return True if self.polls else None

    def fetch(self, request: PollRequest) -> Snapshot:
        """Return the service's current state; a service that cannot be reached gives a snapshot saying so."""
        self.polls += 1
        try:
            health = self.client.health()
        except BosunError as exc:
            detail = f"down: {exc.message}"
            return Snapshot(False, detail, environment_health(False, detail, None, None))
        snap = Snapshot(True, f"up, version {health.get('version', '?')}")
        agents = self._part(snap, "agents", self.client.list_agents)
        environment = self._part(snap, "environment",
                                 lambda: self._optional(ENVIRONMENT_ROUTE, self.client.environment_health))
        snap.components = environment_health(True, snap.service_detail, agents, environment)
        snap.deployments = self._part(snap, "deployments", self.client.list_deployments)
        if self._packages is None or self.polls % PACKAGES_EVERY == 0:
            packages = self._part(snap, "packages", self.client.list_packages)
            if packages is not None:
                self._packages = {p["id"]: p.get("name") or p["id"][:8] for p in packages}
            environments = self._part(snap, "environments", self.client.list_environments)
            if environments is not None:
                self._platforms = {e["id"]: str(e.get("platform") or "?") for e in environments}
        snap.packages = self._packages
        snap.platforms = self._platforms
        flt = request.events
        snap.event_filter = flt
        snap.events = self._part(snap, "events", lambda: self.client.list_events(
            types=[flt.type] if flt.type else (), statuses=[flt.status] if flt.status else (),
            search=flt.search or None, limit=request.events_limit))
        if snap.deployments is not None:
            snap.stats = self._fetch_stats(snap, [d["id"] for d in snap.deployments], request.visible_ids)
        if request.selected_id:
            snap.detail_id = request.selected_id
            snap.detail_stats = self._part(snap, "detail stats",
                                           lambda: self.client.stats(request.selected_id, DETAIL_WINDOW_SEC))
            # The events filter applies to every event list, the detail pane's included.
            snap.detail_events = self._part(snap, "detail events", lambda: self.client.list_events(
                deployment=request.selected_id, types=[flt.type] if flt.type else (),
                statuses=[flt.status] if flt.status else (), search=flt.search or None, limit=DETAIL_EVENTS))
        return snap

    def _part(self, snap: Snapshot, what: str, call: Any) -> Any:
        """Run one read; a refusal is noted in the snapshot instead of failing the whole poll."""
        try:
            return terminal_safe_doc(call())  # names and messages never reach the terminal with raw escapes
        except BosunError as exc:
            snap.problems.append(terminal_safe(f"{what}: {exc.message}"))
            return None

    def _fetch_stats(self, snap: Snapshot, all_ids: list[str], visible: Iterable[str]) -> dict[str, Json]:
        """Return 5-minute stats: all at once from a bulk route, else the visible rows then others in turn."""
        bulk = self._part(snap, "stats", lambda: self._optional(
            BULK_STATS_ROUTE, lambda: self.client.all_stats(TABLE_WINDOW_SEC)))
        if isinstance(bulk, list):
            return {s["deploymentId"]: s for s in bulk if isinstance(s, dict) and "deploymentId" in s}
        known = set(all_ids)
        wanted = [i for i in dict.fromkeys(visible) if i in known][:STATS_BUDGET]
        if all_ids and len(wanted) < STATS_BUDGET:
            for _ in range(len(all_ids)):
                self._stats_cursor %= len(all_ids)
                candidate = all_ids[self._stats_cursor]
                self._stats_cursor += 1
                if candidate not in wanted:
                    wanted.append(candidate)
                if len(wanted) >= STATS_BUDGET:
                    break
        stats: dict[str, Json] = {}
        for dep_id in wanted:
            result = self._part(snap, "stats", lambda d=dep_id: self.client.stats(d, TABLE_WINDOW_SEC))
            if result is not None:
                stats[dep_id] = result
        return stats
