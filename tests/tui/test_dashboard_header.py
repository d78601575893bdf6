"""The header's environment health from agent heartbeats, and the optional routes the dashboard probes."""
from __future__ import annotations

from bosun_local.tui.source import BULK_STATS_ROUTE, ENVIRONMENT_ROUTE
from bosun_local.tui.widgets.header import EnvironmentHeader
from tests.tui.conftest import Stack, run, wait_for


def test_header_reads_agent_heartbeats(stack: Stack) -> None:
    stack.client.heartbeat("mgmt-1", "management", data={})
    stack.client.heartbeat("mon-1", "monitoring", data={"queueDepth": 7, "consumers": 2})

    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            header = app.query_one(EnvironmentHeader)
            await wait_for(pilot, lambda: header.service_ok is True, "the first poll")
            service = header.component("service")
            management = header.component("management agent")
            monitoring = header.component("monitoring agents")
            rabbitmq = header.component("rabbitmq")
            assert service is not None and service.status == "passing"
            assert management is not None and management.status == "passing" and management.detail.endswith("ago")
            assert monitoring is not None and (monitoring.status, monitoring.detail) == ("passing", "1 of 1 live")
            assert rabbitmq is not None and rabbitmq.detail == "queue 7, 2 consumers"
            text = header.render().plain
            assert "management agent" in text and "queue 7, 2 consumers" in text
            # The service has both optional routes: the whole table's stats come from one bulk call.
            assert app.source.has_route(ENVIRONMENT_ROUTE) and app.source.has_route(BULK_STATS_ROUTE)
            assert set(app.table.stats) == set(stack.deployments.values())
            assert app.snapshot is not None and app.snapshot.problems == []

            # Components reported to the environment route (as the management agent does) win over guesses.
            stack.client.report_component("traefik", "failing", "traefik container exited")
            stack.client.report_component("rabbitmq", "warning", "", data={"queueDepth": 1200, "consumers": 1})
            await wait_for(pilot, lambda: header.component("traefik").status == "failing", "traefik failing")
            assert header.component("traefik").detail == "traefik container exited"
            await wait_for(pilot, lambda: header.component("rabbitmq").status == "warning", "rabbitmq warning")
            assert header.component("rabbitmq").detail == "queue 1200, 1 consumers"

    run(body())


def test_header_before_any_agent_reported(readonly_stack: Stack) -> None:
    async def body() -> None:
        app = readonly_stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            header = app.query_one(EnvironmentHeader)
            await wait_for(pilot, lambda: header.service_ok is True, "the first poll")
            for name in ("traefik", "rabbitmq", "management agent", "monitoring agents"):
                component = header.component(name)
                assert component is not None and component.status == "unknown", name
            assert "3 deployments: 1 ready, 1 launching, 1 errored" in header.render().plain

    run(body())
