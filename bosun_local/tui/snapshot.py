"""What one poll of the service brings back, and what the UI asks the next poll for."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class ComponentHealth:
    """One piece of the environment shown in the header: its name, status word and a short detail."""

    name: str
    status: str
    detail: str = ""


@dataclass(frozen=True)
class EventFilter:
    """The events panel's filter: status, type and search text (empty means all)."""

    status: str = ""
    type: str = ""
    search: str = ""


@dataclass(frozen=True)
class PollRequest:
    """What the UI wants fetched: the events filter, the selected deployment and the rows on screen."""

    events: EventFilter = EventFilter()
    selected_id: str | None = None
    visible_ids: tuple[str, ...] = ()
    events_limit: int = 200


@dataclass
class Snapshot:
    """The service's answer to one poll; None fields were not fetched and keep their previous value in the UI."""

    service_ok: bool
    service_detail: str
    components: list[ComponentHealth] = field(default_factory=list)
    deployments: list[Json] | None = None
    packages: dict[str, str] | None = None
    platforms: dict[str, str] | None = None  # environment id -> the platform its plugin deploys to
    stats: dict[str, Json] = field(default_factory=dict)
    events: list[Json] | None = None
    event_filter: EventFilter = EventFilter()
    detail_id: str | None = None
    detail_stats: Json | None = None
    detail_events: list[Json] | None = None
    problems: list[str] = field(default_factory=list)
