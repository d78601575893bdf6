"""The events log: newest first, coloured by status, filtered by status, type and search text on the service."""
from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Select

from bosun_local.tui.formatting import STATUSES, SortableText, event_time, status_colour, text_cell
from bosun_local.tui.snapshot import EventFilter, Json

# Types the service records (bosun_local/service); types seen in events are added as they appear.
KNOWN_TYPES: tuple[str, ...] = (
    "action_failed", "action_queued", "action_started", "action_succeeded", "agent_heartbeat",
    "deployment_changed", "deployment_created", "deployment_state_changed", "health_changed",
    "notification_failed", "package_registered", "prediction_url_changed",
)
EVENT_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("time", "time (UTC)", 14), ("status", "status", 7), ("type", "type", 20), ("deployment", "deployment", 14),
    ("message", "message", 96),
)


class EventsTable(DataTable[Any]):
    """Events keyed by id; a poll adds the new ones on top and drops those no longer matching."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self._shown: dict[str, tuple[str, str]] = {}

    def on_mount(self) -> None:
        for key, label, width in EVENT_COLUMNS:
            self.add_column(label, key=key, width=width)

    def apply(self, events: list[Json], names: dict[str, str]) -> None:
        """Show exactly these events, newest first, keeping rows that stay."""
        wanted = {e["id"]: e for e in events if e.get("id")}
        for gone in [key for key in self._shown if key not in wanted]:
            self.remove_row(gone)
            del self._shown[gone]
        added = False
        for event_id, event in wanted.items():
            dep_id = event.get("deploymentId")
            dep_name = names.get(dep_id, dep_id[:8]) if dep_id else ""
            if event_id in self._shown:
                # Only the deployment name can change under an event (events themselves are immutable).
                if self._shown[event_id][1] != dep_name:
                    self.update_cell(event_id, "deployment", text_cell(dep_name))
                    self._shown[event_id] = (self._shown[event_id][0], dep_name)
                continue
            status = event.get("status") or "unknown"
            colour = status_colour(status)
            self.add_row(
                SortableText(event_time(event.get("time")), sort_key=(event.get("time") or "", event_id)),
                SortableText(status, style=colour, sort_key=status),
                SortableText(event.get("type") or "", style=colour, sort_key=event.get("type") or ""),
                text_cell(dep_name),
                SortableText(str(event.get("message") or ""), sort_key=None),
                key=event_id,
            )
            self._shown[event_id] = (event.get("time") or "", dep_name)
            added = True
        if added:
            self.sort("time", key=lambda cell: cell.sort_key, reverse=True)

    @property
    def event_ids(self) -> list[str]:
        """Return the shown event ids, top to bottom."""
        return [str(r.key.value) for r in self.ordered_rows]


class EventsPanel(Vertical):
    """Filter bar over the events table; posts FilterChanged when the user changes the filter."""

    class FilterChanged(Message):
        """The events filter changed and the events should be fetched again."""

        def __init__(self, flt: EventFilter) -> None:
            super().__init__()
            self.filter = flt

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.types: list[str] = list(KNOWN_TYPES)
        self.filter = EventFilter()

    def compose(self) -> ComposeResult:
        with Horizontal(id="event-filters"):
            yield Input(placeholder="/ search events", id="event-search")
            yield Select([("any status", ""), *((s, s) for s in STATUSES)], value="", allow_blank=False,
                         id="event-status")
            yield Select(self._type_options(), value="", allow_blank=False, id="event-type")
        yield EventsTable(id="events-table")

    def _type_options(self) -> list[tuple[str, str]]:
        return [("any type", ""), *((t, t) for t in sorted(self.types))]

    @property
    def table(self) -> EventsTable:
        return self.query_one(EventsTable)

    def apply(self, events: list[Json], names: dict[str, str]) -> None:
        """Show a poll's events and learn their types for the type filter."""
        self.table.apply(events, names)
        new_types = {e.get("type") for e in events if e.get("type")} - set(self.types)
        if new_types:
            self.types.extend(sorted(t for t in new_types if isinstance(t, str)))
            select = self.query_one("#event-type", Select)
            current = select.value
            with self.prevent(Select.Changed):
                select.set_options(self._type_options())
                select.value = current if current in self.types else ""

    def set_filter(self, status: str | None = None, type_: str | None = None, search: str | None = None) -> None:
        """Change the filter from code (what the widgets do for users); unknown types are added to the list."""
        if type_ and type_ not in self.types:
            self.types.append(type_)
            self.query_one("#event-type", Select).set_options(self._type_options())
        if status is not None:
            self.query_one("#event-status", Select).value = status
        if type_ is not None:
            self.query_one("#event-type", Select).value = type_
        if search is not None:
            self.query_one("#event-search", Input).value = search
        self._changed()

    @on(Input.Changed, "#event-search")
    @on(Select.Changed, "#event-status")
    @on(Select.Changed, "#event-type")
    def _changed(self) -> None:
        status = self.query_one("#event-status", Select).value
        type_ = self.query_one("#event-type", Select).value
        flt = EventFilter(status=status if isinstance(status, str) else "",
                          type=type_ if isinstance(type_, str) else "",
                          search=self.query_one("#event-search", Input).value.strip())
        if flt != self.filter:
            self.filter = flt
            self.post_message(self.FilterChanged(flt))
