"""A service that dies shows as down, the dashboard keeps running, and it recovers when a service returns."""
from __future__ import annotations

from pathlib import Path

from bosun_local.client import ServiceClient
from bosun_local.tui.app import DashboardApp
from bosun_local.tui.widgets.header import EnvironmentHeader
from tests.support.service import free_port, start_service, stop_service, wait_healthy
from tests.tui.conftest import run, wait_for, write_tiny_package


def test_service_down_then_back_on_the_same_port(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_service(home, port)
    procs = [proc]
    try:
        wait_healthy(proc, url, home)
        token = (home / "token").read_text().strip()
        client = ServiceClient(url, token)
        package = client.register_package(write_tiny_package(tmp_path / "pkg", "alpha-model"))
        client.create_deployment(package["id"], "churn", external=True)

        async def body() -> None:
            app = DashboardApp(ServiceClient(url, token, timeout=2.0), interval=0.3)
            async with app.run_test(size=(160, 48)) as pilot:
                header = app.query_one(EnvironmentHeader)
                await wait_for(pilot, lambda: app.table.row_count == 1 and header.service_ok is True, "the row")

                stop_service(proc, hard=True)
                await wait_for(pilot, lambda: header.service_ok is False, "the header to show the service down")
                text = header.render().plain
                assert "service DOWN" in text and url in text
                assert header.component("service").status == "failing"
                assert app.table.row_count == 1 and app.table.has_class("-stale"), "the last known rows stay"

                # Keys still answer while the service is away, with an error instead of a crash.
                await pilot.press("s")
                await wait_for(pilot, lambda: any("stop churn failed" in str(n.message) for n in app._notifications),
                               "the refused action")
                polls = app.polls_applied
                await wait_for(pilot, lambda: app.polls_applied >= polls + 3, "polling to continue while down")
                assert app.is_running

                procs.append(start_service(home, port))
                wait_healthy(procs[-1], url, home)
                ServiceClient(url, token).create_deployment(package["id"], "fraud", external=True)
                await wait_for(pilot, lambda: header.service_ok is True and app.table.row_count == 2,
                               "recovery with the new deployment")
                assert not app.table.has_class("-stale")
                assert "DOWN" not in header.render().plain

        run(body())
        client.close()
    finally:
        for p in procs:
            stop_service(p)
