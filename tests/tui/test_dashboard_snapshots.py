"""SVG snapshots of the main screen and the deploy modal: fixed size, fixed data, fixed event times."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.pilot import Pilot

from bosun_local.client import ServiceClient
from bosun_local.tui.app import DashboardApp
from bosun_local.tui.screens import DeployScreen
from bosun_local.tui.snapshot import EventFilter
from tests.support.service import running_service
from tests.tui.conftest import write_tiny_package

SIZE = (160, 48)
# Event times are fixed (and the events view is filtered to them) so no clock shows in the screenshots.
DRILL_EVENTS = (
    ("churn", "warning", "latency above target on churn", "2030-05-01T10:00:00.000000Z"),
    ("churn", "failing", "churn stopped answering", "2030-05-01T10:01:00.000000Z"),
    ("pricing", "passing", "pricing recovered", "2030-05-01T10:02:00.000000Z"),
    ("fraud", "info", "fraud drill finished", "2030-05-01T10:03:00.000000Z"),
)


@pytest.fixture(scope="module")
def fixed_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Run a service with two packages, three deployments in three states and four fixed-time events."""
    tmp = tmp_path_factory.mktemp("snapshots")
    with running_service(tmp / "home") as (url, token), ServiceClient(url, token) as client:
        packages = {name: client.register_package(write_tiny_package(tmp / name, name))["id"]
                    for name in ("alpha-model", "beta-model")}
        ids = {}
        for name, package, external in (("churn", "alpha-model", False), ("fraud", "beta-model", False),
                                        ("pricing", "alpha-model", True)):
            ids[name] = client.create_deployment(packages[package], name, external=external)["deployment"]["id"]
        client.update_deployment_status(ids["fraud"], state="errored", health_status="failing")
        client.update_deployment_status(ids["pricing"], prediction_url="http://127.0.0.1:9/pricing",
                                        health_status="passing")
        for dep, status, message, time_ in DRILL_EVENTS:
            client.post_event("drill", status, message, deployment_id=ids[dep], time_=time_)
        yield url, token


def dashboard(fixed_service: tuple[str, str]) -> DashboardApp:
    url, token = fixed_service
    return DashboardApp(ServiceClient(url, token, timeout=5.0), interval=0.5)


async def settle(pilot: Pilot[None]) -> None:
    """Filter events to the fixed-time drill and wait until every panel shows its data."""
    app = pilot.app
    assert isinstance(app, DashboardApp)
    for _ in range(200):
        if app.table.row_count == 3 and app.snapshot is not None:
            break
        await pilot.pause(0.05)
    app.set_event_filter(EventFilter(type="drill"))
    for _ in range(200):
        detail = app.query_one("#detail-events").render().plain
        if app.events_panel.table.row_count == len(DRILL_EVENTS) and "churn stopped answering" in detail:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)


def test_main_screen(fixed_service: tuple[str, str], snap_compare) -> None:  # noqa: ANN001
    assert snap_compare(dashboard(fixed_service), terminal_size=SIZE, run_before=settle)


def test_deploy_modal(fixed_service: tuple[str, str], snap_compare) -> None:  # noqa: ANN001
    async def open_modal(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("d")
        for _ in range(200):
            if isinstance(pilot.app.screen, DeployScreen):
                break
            await pilot.pause(0.05)
        await pilot.press("down", "enter")  # choose alpha-model: the name field takes the package's name
        await pilot.pause(0.2)

    assert snap_compare(dashboard(fixed_service), terminal_size=SIZE, run_before=open_modal)

