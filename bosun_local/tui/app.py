"""The dashboard app: layout, key bindings, the poller and the actions it sends to the service."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input

from bosun_local.client import ServiceClient
from bosun_local.errors import BosunError
from bosun_local.tui.screens import ConfirmScreen, DeployScreen, ReplaceModelScreen
from bosun_local.tui.snapshot import EventFilter, Json, PollRequest, Snapshot
from bosun_local.tui.source import DashboardSource
from bosun_local.tui.traffic_screen import TrafficScreen
from bosun_local.tui.widgets.deployments_table import DeploymentsTable
from bosun_local.tui.widgets.detail import DetailPane
from bosun_local.tui.widgets.events_panel import EventsPanel
from bosun_local.tui.widgets.header import EnvironmentHeader

STATE_ORDER = ("ready", "launching", "replacingModel", "shuttingDown", "stopped", "errored", "unknown")


class DashboardApp(App[None]):
    """Watch and drive a bosun-local service from the terminal."""

    CSS_PATH = Path(__file__).with_name("dashboard.tcss")
    TITLE = "bosun-local dashboard"
    BINDINGS = [
        Binding("d", "deploy", "Deploy"),
        Binding("r", "replace_model", "Replace model"),
        Binding("s", "toggle_running", "Stop/Start"),
        Binding("l", "relaunch", "Relaunch"),
        Binding("x", "delete", "Delete"),
        Binding("c", "traffic", "Challengers"),
        Binding("b", "rollback", "Rollback"),
        Binding("e", "focus_events", "Events"),
        Binding("slash", "search_events", "Search"),
        Binding("o", "cycle_sort", "Sort"),
        Binding("escape", "focus_table", "Table", show=False),
        Binding("q", "quit", "Quit"),
    ]
    # Title and help of each key action, for the command palette.
    PALETTE: tuple[tuple[str, str, str], ...] = (
        ("Deploy a package", "d: create a deployment from a registered model package", "deploy"),
        ("Replace model", "r: serve another package on the selected deployment", "replace_model"),
        ("Stop / start deployment", "s: stop the selected deployment, or start it when stopped", "toggle_running"),
        ("Relaunch deployment", "l: recreate the selected deployment's containers", "relaunch"),
        ("Delete deployment", "x: delete the selected deployment (asks first)", "delete"),
        ("Champion vs challengers", "c: compare, add, promote or remove challengers and the canary", "traffic"),
        ("Roll back", "b: go back to the previous model of the selected deployment (asks first)", "rollback"),
        ("Focus events", "e: move to the events log", "focus_events"),
        ("Search events", "/: type text to search events", "search_events"),
        ("Sort deployments", "o: sort the table by the next column", "cycle_sort"),
    )

    def __init__(self, client: ServiceClient, interval: float = 1.0, action_client: ServiceClient | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = DashboardSource(client)
        # Actions go through their own connection pool so a slow poll never delays a key press.
        self.actions_client = action_client or ServiceClient(url=client.url, token=client.token,
                                                             timeout=client.http.timeout.read or 10.0)
        self.interval = interval
        self.snapshot: Snapshot | None = None
        self.polls_applied = 0
        self._timer: Timer | None = None
        self._polling = False
        self._poll_again = False

    # layout
    def compose(self) -> ComposeResult:
        yield EnvironmentHeader(self.source.url, id="env-header")
        yield DeploymentsTable(id="deployments")
        with Horizontal(id="bottom"):
            yield DetailPane(id="detail")
            yield EventsPanel(id="events")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail", DetailPane).border_title = "selected deployment"
        self.query_one("#events", EventsPanel).border_title = "events (newest first)"
        self.query_one(DeploymentsTable).focus()
        self.poll_now()

    @property
    def table(self) -> DeploymentsTable:
        return self.query_one(DeploymentsTable)

    @property
    def events_panel(self) -> EventsPanel:
        return self.query_one(EventsPanel)

    # polling
    def poll_now(self) -> None:
        """Poll at once, or right after the poll in flight (polls never overlap)."""
        if self._polling:
            self._poll_again = True
            return
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._torn_down():
            return
        table, events = self.table, self.events_panel
        self._polling = True
        request = PollRequest(events=events.filter, selected_id=table.selected_id, visible_ids=table.visible_ids())
        self._poll(request)

    @work(thread=True, group="poll", exit_on_error=False)
    def _poll(self, request: PollRequest) -> None:
        """Fetch a snapshot off the UI thread and hand it back; the UI re-arms the timer."""
        try:
            snap = self.source.fetch(request)
        except Exception as exc:  # noqa: BLE001 - any surprise in one poll must not end the dashboard
            snap = Snapshot(True, "", problems=[f"reading the service failed: {type(exc).__name__}: {exc}"])
        try:
            self.call_from_thread(self._poll_done, snap)
        except RuntimeError:
            pass  # the app is shutting down; nobody is left to show the result

    def _poll_done(self, snap: Snapshot) -> None:
        self._polling = False
        if self._torn_down():
            return
        try:
            self.apply_snapshot(snap)
        finally:
            if self._poll_again:
                self._poll_again = False
                self.poll_now()
            else:
                self._timer = self.set_timer(self.interval, self.poll_now)

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Show one poll's results; parts the poll did not fetch keep their previous values."""
        self.snapshot = snap
        self.polls_applied += 1
        table = self.table
        table.set_class(not snap.service_ok, "-stale")
        if snap.deployments is not None:
            table.apply(snap.deployments, snap.packages or {}, snap.stats, snap.platforms)
        names = {dep_id: dep.get("name") or dep_id[:8] for dep_id, dep in table.deployments.items()}
        if snap.events is not None and snap.event_filter == self.events_panel.filter:
            self.events_panel.apply(snap.events, names)
        header = self.query_one(EnvironmentHeader)
        components = snap.components or header.components
        header.show(components, snap.service_ok, self._summary(snap))
        selected = table.selected_id
        detail = self.query_one(DetailPane)
        if snap.detail_id is not None and snap.detail_id == selected:
            detail.show(table.deployments.get(selected), snap.detail_stats, snap.detail_events,
                        filtered=snap.event_filter != EventFilter())
        elif selected is None:
            detail.show(None, None, None)
        elif selected != detail.deployment_id:
            # The cursor landed on a row this poll did not fetch details for (first rows, a deleted row's
            # neighbour): show what the table knows and fetch the rest at once.
            detail.show(table.deployments.get(selected), table.stats.get(selected), None)
            self._poll_again = True

    def _summary(self, snap: Snapshot) -> str:
        table = self.table
        states = Counter(d.get("state") or "unknown" for d in table.deployments.values())
        parts = [f"{states[s]} {s}" for s in STATE_ORDER if states.get(s)]
        text = f"{len(table.deployments)} deployments" + (f": {', '.join(parts)}" if parts else "")
        text += f" · sorted by {table.sort_description()}"
        if snap.problems:
            more = f" (+{len(snap.problems) - 1} more)" if len(snap.problems) > 1 else ""
            text += f" · ⚠ {snap.problems[0]}{more}"
        return text

    @on(DataTable.RowHighlighted, "#deployments")
    def _selection_moved(self, event: DataTable.RowHighlighted) -> None:
        if self._torn_down():
            return
        dep_id = str(event.row_key.value) if event.row_key else None
        detail = self.query_one(DetailPane)
        if dep_id and dep_id != detail.deployment_id:
            detail.show(self.table.deployments.get(dep_id), self.table.stats.get(dep_id), None)
            self.poll_now()

    @on(DataTable.HeaderSelected, "#deployments")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self.table.sort_by(str(event.column_key.value))
        self._refresh_summary()

    @on(EventsPanel.FilterChanged)
    def _filter_changed(self, event: EventsPanel.FilterChanged) -> None:
        self.poll_now()

    def _refresh_summary(self) -> None:
        if self.snapshot is not None and not self._torn_down():
            header = self.query_one(EnvironmentHeader)
            header.show(header.components, self.snapshot.service_ok, self._summary(self.snapshot))

    # key actions
    def _selected(self) -> Json | None:
        dep_id = self.table.selected_id
        dep = self.table.deployments.get(dep_id) if dep_id else None
        if dep is None:
            self.notify("no deployment selected", severity="warning")
        return dep

    @work(thread=True, group="actions", exit_on_error=False)
    def _send(self, what: str, call: Callable[[], Json | None]) -> None:
        """Send one action to the service off the UI thread and report the outcome."""
        try:
            result = call() or {}
        except BosunError as exc:
            self.call_from_thread(self.notify, f"{what} failed: {exc.message}" + (f"\nfix: {exc.fix}" if exc.fix
                                                                                    else ""),
                                  severity="error", timeout=10)
            return
        action = result.get("action") if isinstance(result, dict) else None
        note = f" (action {action['type']} {action['id'][:8]} queued)" if isinstance(action, dict) else ""
        if result.get("coalesced"):
            note = " (same action already pending)"
        self.call_from_thread(self.notify, f"{what}: sent{note}")
        self.call_from_thread(self.poll_now)

    @work(thread=True, group="actions", exit_on_error=False)
    def _with_packages(self, then: Callable[[list[Json]], None]) -> None:
        """List the registered packages off the UI thread, then open a modal with them."""
        try:
            packages = self.actions_client.list_packages()
        except BosunError as exc:
            self.call_from_thread(self.notify, f"cannot list packages: {exc.message}", severity="error")
            return
        self.call_from_thread(then, packages)

    def action_deploy(self) -> None:
        """Open the deploy modal and create the deployment it returns."""
        def chosen(result: tuple[str, str] | None) -> None:
            if result:
                package_id, name = result
                self._send(f"deploy {name}", lambda: self.actions_client.create_deployment(package_id, name))

        self._with_packages(lambda packages: self.push_screen(DeployScreen(packages), chosen))

    def action_replace_model(self) -> None:
        """Open the replace-model modal for the selected deployment."""
        dep = self._selected()
        if dep is None:
            return

        def chosen(package_id: str | None) -> None:
            if package_id:
                self._send(f"replace model of {dep['name']}",
                           lambda: self.actions_client.replace_model(dep["id"], package_id))

        self._with_packages(lambda packages: self.push_screen(ReplaceModelScreen(dep, packages), chosen))

    def action_toggle_running(self) -> None:
        """Stop the selected deployment, or start it when it is stopped."""
        dep = self._selected()
        if dep is None:
            return
        stopped = dep.get("desiredState") == "stopped" or dep.get("state") == "stopped"
        if stopped:
            self._send(f"start {dep['name']}", lambda: self.actions_client.start_deployment(dep["id"]))
        else:
            self._send(f"stop {dep['name']}", lambda: self.actions_client.stop_deployment(dep["id"]))

    def action_relaunch(self) -> None:
        """Relaunch the selected deployment."""
        dep = self._selected()
        if dep is not None:
            self._send(f"relaunch {dep['name']}", lambda: self.actions_client.relaunch_deployment(dep["id"]))

    def action_delete(self) -> None:
        """Delete the selected deployment after a confirmation."""
        dep = self._selected()
        if dep is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._send(f"delete {dep['name']}", lambda: self.actions_client.delete_deployment(dep["id"]))

        question = f"Delete deployment {dep['name']} ({dep['id'][:8]})? Its containers are removed."
        self.push_screen(ConfirmScreen(question, confirm_label="Delete"), answered)

    def action_traffic(self) -> None:
        """Open champion vs challengers and canary of the selected deployment."""
        dep = self._selected()
        if dep is None:
            return

        def pick(deployment: Json, then: Callable[[str | None], None]) -> None:
            self._with_packages(lambda packages: self.push_screen(ReplaceModelScreen(deployment, packages,
                                                                                     verb="Add a challenger to"), then))

        self.push_screen(TrafficScreen(dep, self.actions_client, self._send, pick))

    def action_rollback(self) -> None:
        """Roll the selected deployment back to its previous model after a confirmation."""
        dep = self._selected()
        if dep is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._send(f"rollback {dep['name']}", lambda: self.actions_client.rollback(dep["id"]))

        question = f"Roll {dep['name']} back to the model it served before? (zero downtime)"
        self.push_screen(ConfirmScreen(question, confirm_label="Roll back"), answered)

    def action_focus_events(self) -> None:
        """Move the focus to the events log."""
        self.events_panel.table.focus()

    def action_search_events(self) -> None:
        """Move the focus to the events search box."""
        self.query_one("#event-search", Input).focus()

    def action_focus_table(self) -> None:
        """Move the focus back to the deployments table."""
        self.table.focus()

    def action_cycle_sort(self) -> None:
        """Sort the deployments by the next column."""
        self.notify(f"sorted by {self.table.cycle_sort()}", timeout=2)
        self._refresh_summary()

    def set_event_filter(self, flt: EventFilter) -> None:
        """Change the events filter (as the filter bar does)."""
        self.events_panel.set_filter(status=flt.status, type_=flt.type, search=flt.search)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """List every key action in the command palette, after Textual's own commands."""
        yield from super().get_system_commands(screen)
        for title, help_text, action in self.PALETTE:
            yield SystemCommand(title, help_text, lambda a=action: self.run_action(a))

    def _torn_down(self) -> bool:
        """Tell whether the app is shutting down, so late timers and messages find no widgets to update."""
        # Textual clears _running before it removes the screens, then still dispatches queued messages.
        if not self.is_running:
            return True
        try:
            self.query_one(DetailPane)
        except NoMatches:
            return True
        return False

    def on_unmount(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.actions_client.close()
