"""The champion/challengers/canary screen: one row per model side by side, with keys to add, promote, remove."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from bosun_local.errors import BosunError
from bosun_local.tui.formatting import status_colour
from bosun_local.tui.snapshot import Json

COLUMNS = ("role", "package", "requests", "errors", "p50 ms", "p95 ms", "health", "mean", "drift", "agreement",
           "accuracy")


def _num(value: float | None, spec: str = ".4g") -> str:
    return "-" if value is None else f"{value:{spec}}"


def model_cells(model: Json) -> list[Text | str]:
    """Return one model's cells of the side-by-side table."""
    agreement, accuracy = model["agreement"], model["accuracy"]
    return [
        Text(model["role"] + (f" ({model['feed']})" if model.get("feed") else ""),
             style="bold" if model["role"] == "champion" else ""),
        model.get("packageName") or model["modelId"][:8], str(model["predictions"]),
        f"{model['errors']} ({_num(model['errorRate'], '.1%')})", _num(model["latencyP50Ms"], ".1f"),
        _num(model["latencyP95Ms"], ".1f"),
        Text(f"● {model['serviceHealth']}", style=status_colour(model["serviceHealth"])),
        _num(model["predictionMean"]), Text(model["drift"]["status"], style=status_colour(model["drift"]["status"])),
        f"{_num(agreement['rate'], '.0%')} of {agreement['compared']}",
        f"{accuracy['metric']} {_num(accuracy['value'])}" if accuracy["metric"] else "no actuals",
    ]


class TrafficScreen(ModalScreen[None]):
    """Champion vs challengers and canary of one deployment (refreshed every few seconds)."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("a", "add", "Add challenger"),
        Binding("p", "promote", "Promote"),
        Binding("x", "remove", "Remove / abort"),
    ]

    def __init__(self, deployment: Json, client: Any, send: Callable[..., Any],
                 pick_package: Callable[[Json, Callable[[str | None], None]], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deployment = deployment
        self.client = client
        self.send = send
        self.pick_package = pick_package
        self.models: list[Json] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="traffic-dialog", classes="dialog"):
            yield Label(f"Champion, challengers and canary of {self.deployment.get('name')} (last hour)",
                        classes="dialog-title")
            yield DataTable(id="traffic-table", cursor_type="row", zebra_stripes=True)
            yield Label("a add challenger · p promote · x remove challenger / abort canary · esc close",
                        id="traffic-help", classes="field-label")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.refresh_models()
        self.set_interval(3.0, self.refresh_models)

    @work(thread=True, exclusive=True, group="traffic", exit_on_error=False)
    def refresh_models(self) -> None:
        """Fetch the side-by-side figures off the UI thread."""
        try:
            answer = self.client.compare(self.deployment["id"])
        except BosunError as exc:
            self.app.call_from_thread(self.app.notify, f"cannot compare: {exc.message}", severity="error")
            return
        self.app.call_from_thread(self.show, answer["models"])

    def show(self, models: list[Json]) -> None:
        """Put one row per model in the table, keyed by role and model id."""
        self.models = models
        table = self.query_one(DataTable)
        keys = [f"{m['role']}:{m['modelId']}" for m in models]
        for row_key in [k for k in list(table.rows) if k.value not in keys]:
            table.remove_row(row_key)
        for key, model in zip(keys, models, strict=True):
            cells = model_cells(model)
            if key in {k.value for k in table.rows}:
                for column, cell in zip(table.columns, cells, strict=True):
                    table.update_cell(key, column, cell)
            else:
                table.add_row(*cells, key=key)

    def _current(self) -> Json | None:
        table = self.query_one(DataTable)
        if not self.models or table.cursor_row is None or table.cursor_row >= len(self.models):
            return None
        return self.models[table.cursor_row]

    def action_close(self) -> None:
        self.dismiss(None)

    def action_add(self) -> None:
        """Pick a package and add it as a challenger."""
        dep = self.deployment

        def chosen(package_id: str | None) -> None:
            if package_id:
                self.send(f"add challenger to {dep['name']}", lambda: self.client.add_challenger(dep["id"], package_id))

        self.pick_package(dep, chosen)

    def action_promote(self) -> None:
        """Promote the highlighted challenger or canary."""
        model, dep = self._current(), self.deployment
        if model is None or model["role"] == "champion":
            self.app.notify("highlight a challenger or the canary to promote", severity="warning")
        elif model["role"] == "canary":
            self.send(f"promote canary of {dep['name']}", lambda: self.client.promote_canary(dep["id"]))
        else:
            self.send(f"promote challenger of {dep['name']}",
                      lambda: self.client.promote_challenger(dep["id"], model["modelId"]))

    def action_remove(self) -> None:
        """Remove the highlighted challenger, or abort the canary."""
        model, dep = self._current(), self.deployment
        if model is None or model["role"] == "champion":
            self.app.notify("highlight a challenger or the canary", severity="warning")
        elif model["role"] == "canary":
            self.send(f"abort canary of {dep['name']}", lambda: self.client.abort_canary(dep["id"]))
        else:
            self.send(f"remove challenger of {dep['name']}",
                      lambda: self.client.remove_challenger(dep["id"], model["modelId"]))
