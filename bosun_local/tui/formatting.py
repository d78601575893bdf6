"""Colours and cell text of the dashboard: one vocabulary of statuses, numbers shown the same everywhere."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text

# The service's status vocabulary and the colour each one has everywhere in the dashboard.
STATUS_COLOURS: dict[str, str] = {
    "passing": "green",
    "warning": "yellow",
    "failing": "red",
    "unknown": "grey50",
    "info": "cyan",
}
STATUSES: tuple[str, ...] = tuple(STATUS_COLOURS)

# DeploymentState vocabulary mapped onto the status colours: transitions are warnings, not failures.
STATE_STATUS: dict[str, str] = {
    "ready": "passing",
    "launching": "warning",
    "replacingModel": "warning",
    "shuttingDown": "warning",
    "stopped": "unknown",
    "errored": "failing",
    "unknown": "unknown",
}

MISSING = "–"


class SortableText(Text):
    """A table cell that renders as styled text but sorts by a separate value."""

    __slots__ = ("sort_key",)

    def __init__(self, text: str, style: str = "", sort_key: Any = None) -> None:
        super().__init__(text, style=style, end="", no_wrap=True)
        # (missing flag, value): empty cells group together instead of comparing a dash with numbers.
        self.sort_key = (sort_key is None, sort_key if sort_key is not None else 0)


def status_colour(status: str | None) -> str:
    """Return the colour of a status word (unknown words are gray)."""
    return STATUS_COLOURS.get(status or "unknown", STATUS_COLOURS["unknown"])


def worst_status(*statuses: str | None) -> str:
    """Return the worst known status (failing > warning > passing), unknown when none is known."""
    known = [s for s in statuses if s in ("failing", "warning", "passing")]
    return min(known, key=("failing", "warning", "passing").index) if known else "unknown"


def status_cell(status: str | None, label: str | None = None) -> SortableText:
    """Return a coloured dot and word for a status."""
    word = status or "unknown"
    order = {"failing": 0, "warning": 1, "unknown": 2, "info": 3, "passing": 4}.get(word, 2)
    return SortableText(f"● {label or word}", style=status_colour(word), sort_key=order)


def state_cell(state: str | None, desired: str | None = None) -> SortableText:
    """Return a deployment state coloured by how healthy it is; show a pending desired state."""
    word = state or "unknown"
    label = word
    if desired == "stopped" and word not in ("stopped", "shuttingDown"):
        label = f"{word}→stop"
    elif desired == "deleted":
        label = f"{word}→delete"
    return SortableText(label, style=status_colour(STATE_STATUS.get(word, "unknown")), sort_key=label)


def text_cell(value: str | None, style: str = "") -> SortableText:
    """Return a plain text cell (missing values shown as a dash)."""
    if not value:
        return SortableText(MISSING, style="grey50", sort_key=None)
    return SortableText(value, style=style, sort_key=value.lower())


def count_cell(value: float | int | None) -> SortableText:
    """Return a count, compact above ten thousand."""
    if value is None:
        return SortableText(MISSING, style="grey50", sort_key=None)
    number = int(value)
    text = f"{number / 1000:.1f}k" if number >= 10_000 else str(number)
    return SortableText(text.rjust(6), sort_key=number)


def ms_cell(value: float | None) -> SortableText:
    """Return a latency in milliseconds (seconds above ten thousand ms)."""
    if value is None:
        return SortableText(MISSING.rjust(7), style="grey50", sort_key=None)
    text = f"{value / 1000:.1f}s" if value >= 10_000 else f"{value:.1f}ms" if value < 100 else f"{value:.0f}ms"
    return SortableText(text.rjust(7), sort_key=float(value))


def rate_cell(value: float | None, status: str | None = None) -> SortableText:
    """Return an error rate as a percentage coloured by the service-health status."""
    if value is None:
        return SortableText(MISSING.rjust(6), style="grey50", sort_key=None)
    style = status_colour(status) if status in ("warning", "failing") else ""
    return SortableText(f"{value * 100:.1f}%".rjust(6), style=style, sort_key=float(value))


def drift_cell(drift: dict[str, Any] | None) -> SortableText:
    """Return the drift status with the largest PSI of the prediction and features."""
    if not drift:
        return SortableText(MISSING, style="grey50", sort_key=None)
    status = drift.get("status") or "unknown"
    candidates = [drift.get("prediction"), *(drift.get("features") or {}).values()]
    values = [v for v in candidates if isinstance(v, int | float)]
    worst = max(values) if values else None
    label = f"● {status}" if worst is None else f"● {status} {worst:.2f}"
    return SortableText(label, style=status_colour(status), sort_key=worst)


def event_time(iso: str | None) -> str:
    """Return an event time as `MM-DD HH:MM:SS` UTC (the service stores UTC; a fixed zone keeps views comparable)."""
    if not iso:
        return MISSING
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return iso
    return moment.strftime("%m-%d %H:%M:%S")


def age_text(seconds: float | None) -> str:
    """Return an age like `4s`, `3m`, `2h` ago."""
    if seconds is None:
        return "never"
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.0f}h ago"
