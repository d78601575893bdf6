"""The detail pane of the selected deployment: traffic and latency sparklines, per-feature drift, recent events."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Sparkline, Static

from bosun_local.tui.formatting import MISSING, event_time, status_colour
from bosun_local.tui.snapshot import Json

SPARK_MINUTES = 60
# Conventional PSI bands for one feature (the service's drift status covers the deployment as a whole).
PSI_WARN = 0.1
PSI_FAIL = 0.25


def minute_series(series: list[Json], field: str, now: datetime | None = None) -> list[float]:
    """Return one value per minute of the last hour, oldest first, zero where the service has no figure."""
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    by_minute: dict[str, float] = {}
    for point in series:
        value = point.get(field)
        if isinstance(point.get("minute"), str) and isinstance(value, int | float):
            by_minute[point["minute"][:16]] = float(value)
    minutes = [now - timedelta(minutes=SPARK_MINUTES - 1 - i) for i in range(SPARK_MINUTES)]
    return [by_minute.get(m.strftime("%Y-%m-%dT%H:%M"), 0.0) for m in minutes]


def psi_status(psi: float) -> str:
    """Return the status of one feature's PSI."""
    return "failing" if psi >= PSI_FAIL else "warning" if psi >= PSI_WARN else "passing"


def traffic_line(dep: Json) -> str:
    """Return the champion / challengers / canary line of a deployment, '' when it runs the champion alone."""
    challengers = [c["modelId"][:8] for c in (dep.get("traffic") or {}).get("challengers") or []]
    canary = dep.get("canary") or {}
    parts = [f"challengers {', '.join(challengers)}"] if challengers else []
    if canary.get("status") == "running":
        parts.append(f"canary {canary['modelId'][:8]} at {canary['percent']} %")
    if not parts:
        return ""
    return f"champion {str(dep.get('packageId') or '')[:8]}; " + "; ".join(parts) + " (c: compare)"


def serving_line(dep: Json) -> str:
    """Return how a deployment asks to be served (keyValueConfig serving, replicas, autoscale), '' when it does not."""
    kv = dep.get("keyValueConfig") or {}
    parts = [f"serving {kv['serving']}"] if kv.get("serving") else []
    if kv.get("autoscaleMax") not in (None, ""):
        parts.append(f"autoscale {kv.get('autoscaleMin') or 1}-{kv['autoscaleMax']} replicas")
    if kv.get("replicas") not in (None, ""):
        parts.append(f"{kv['replicas']} replicas")
    return ", ".join(parts)


class DetailPane(VerticalScroll):
    """Everything about the deployment under the cursor."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deployment_id: str | None = None
        self._last: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static("no deployment selected", id="detail-title")
        yield Static("requests / minute, last hour", classes="spark-label", id="requests-label")
        yield Sparkline([], id="requests-spark")
        yield Static("p95 latency, last hour", classes="spark-label", id="latency-label")
        yield Sparkline([], id="latency-spark")
        yield Static("", id="detail-drift")
        yield Static("", id="detail-accuracy")
        yield Static("", id="detail-events")

    def show(self, dep: Json | None, stats: Json | None, events: list[Json] | None, filtered: bool = False) -> None:
        """Show one deployment (None clears the pane); skip repainting when nothing changed."""
        key = (dep and (dep.get("id"), dep.get("state"), dep.get("predictionUrl"), dep.get("updatedAt")),
               repr(stats), repr(events), filtered)
        if key == self._last:
            return
        self._last = key
        self.deployment_id = dep.get("id") if dep else None
        self.query_one("#detail-title", Static).update(self._title(dep, stats))
        series = (stats or {}).get("series") or []
        requests = minute_series(series, "predictions")
        latency = minute_series(series, "latencyP95Ms")
        self.query_one("#requests-spark", Sparkline).data = requests
        self.query_one("#latency-spark", Sparkline).data = latency
        total = int(sum(requests))
        self.query_one("#requests-label", Static).update(
            f"requests / minute, last hour — {total} total, peak {int(max(requests, default=0))}/min")
        peak = max(latency, default=0.0)
        self.query_one("#latency-label", Static).update(
            f"p95 latency, last hour — peak {peak:.1f} ms" if peak else "p95 latency, last hour — no requests")
        self.query_one("#detail-drift", Static).update(self._drift(stats))
        self.query_one("#detail-accuracy", Static).update(self._accuracy(stats))
        self.query_one("#detail-events", Static).update(self._events(events, filtered))

    @staticmethod
    def _title(dep: Json | None, stats: Json | None) -> Text:
        if dep is None:
            return Text("no deployment selected", style="grey50")
        text = Text()
        text.append(dep.get("name") or dep["id"], style="bold")
        text.append("  external\n" if dep.get("external") else "\n", style="grey50")
        text.append(f"state {dep.get('state') or 'unknown'}, wants {dep.get('desiredState') or MISSING}; ")
        text.append(f"url {dep.get('predictionUrl') or MISSING}\n")
        serving = serving_line(dep)
        if serving:
            text.append(serving + "\n")
        traffic = traffic_line(dep)
        if traffic:
            text.append(traffic + "\n", style="cyan")
        if stats:
            health = stats.get("serviceHealth") or "unknown"
            text.append("service health ")
            text.append(f"● {health}", style=status_colour(health))
            rate = stats.get("errorRate")
            text.append(f"  (1h: {stats.get('predictions', 0)} requests, errors "
                        f"{'%.1f%%' % (rate * 100) if isinstance(rate, int | float) else MISSING})")
        return text

    @staticmethod
    def _drift(stats: Json | None) -> Text:
        drift = (stats or {}).get("drift") or {}
        text = Text("drift ", style="bold")
        status = drift.get("status") or "unknown"
        text.append(f"● {status}", style=status_colour(status))
        prediction = drift.get("prediction")
        if isinstance(prediction, int | float):
            text.append(f"  prediction PSI {prediction:.3f}")
        features = {k: v for k, v in (drift.get("features") or {}).items() if isinstance(v, int | float)}
        if not features:
            text.append("\n  no feature drift figures (no baseline or no predictions yet)", style="grey50")
        for name, psi in sorted(features.items(), key=lambda kv: -kv[1]):
            bar = "█" * min(20, int(psi / PSI_FAIL * 10) + 1)
            text.append(f"\n  {name[:16]:<16} {psi:6.3f} ")
            text.append(bar, style=status_colour(psi_status(psi)))
        return text

    @staticmethod
    def _accuracy(stats: Json | None) -> Text:
        accuracy = (stats or {}).get("accuracy") or {}
        text = Text("accuracy ", style="bold")
        status = accuracy.get("status") or "unknown"
        text.append(f"● {status}", style=status_colour(status))
        if not accuracy.get("matched"):
            waiting = accuracy.get("waitingActuals") or 0
            text.append(f"  no actuals matched yet ({waiting} waiting)", style="grey50")
            return text
        text.append(f"  {accuracy.get('targetType') or ''}, {accuracy['matched']} matched, by "
                    f"{accuracy.get('metric') or MISSING}")
        for name, value in (accuracy.get("metrics") or {}).items():
            text.append(f"\n  {name:<16} " + (f"{value:.4g}" if isinstance(value, int | float) else MISSING))
        return text

    @staticmethod
    def _events(events: list[Json] | None, filtered: bool) -> Text:
        text = Text("recent events" + (" matching the events filter" if filtered else ""), style="bold")
        if events is None:
            text.append("\n  …", style="grey50")
        elif not events:
            text.append("\n  none", style="grey50")
        for event in events or []:
            status = event.get("status") or "unknown"
            text.append(f"\n  {event_time(event.get('time'))} ")
            text.append(f"{event.get('type', '')}", style=status_colour(status))
            text.append(f" {event.get('message', '')}")
        return text
