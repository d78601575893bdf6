"""The header: one coloured dot per environment component, and whether the service answers."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from bosun_local.tui.formatting import status_colour
from bosun_local.tui.snapshot import ComponentHealth

PLACEHOLDER = ("service", "traefik", "rabbitmq", "management agent", "monitoring agents")


class EnvironmentHeader(Static):
    """Environment health: service, traefik, RabbitMQ, management agent, monitoring agents."""

    def __init__(self, url: str, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.url = url
        self.components: list[ComponentHealth] = [ComponentHealth(n, "unknown", "…") for n in PLACEHOLDER]
        self.service_ok: bool | None = None
        self.summary = ""

    def on_mount(self) -> None:
        self.update(self._render_text())

    def show(self, components: list[ComponentHealth], service_ok: bool, summary: str = "") -> None:
        """Show a poll's components and a summary line; repaint only when something changed."""
        if components == self.components and service_ok == self.service_ok and summary == self.summary:
            return
        self.components, self.service_ok, self.summary = components, service_ok, summary
        self.set_class(not service_ok, "-down")
        self.update(self._render_text())

    def component(self, name: str) -> ComponentHealth | None:
        """Return the shown health of a component by name."""
        return next((c for c in self.components if c.name == name), None)

    def _render_text(self) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(" bosun-local ", style="bold reverse")
        for comp in self.components:
            line.append("  ")
            line.append("● ", style=status_colour(comp.status))
            line.append(comp.name, style="bold")
            if comp.name == "service":
                label = "up" if self.service_ok else "DOWN" if self.service_ok is False else "…"
                line.append(f" {label}", style=status_colour(comp.status))
            elif comp.detail:
                line.append(f" {comp.detail}", style="grey70")
        second = Text(no_wrap=True, overflow="ellipsis")
        if self.service_ok is False:
            second.append(f" service {self.url} unreachable — showing the last known state; retrying. ",
                          style="bold red")
            second.append(self.components[0].detail.removeprefix("down: "), style="red")
        else:
            second.append(f" {self.summary}")
        return Text("\n").join([line, second])
