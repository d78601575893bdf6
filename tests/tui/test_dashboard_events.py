"""The events log: newest first, coloured by status, filtered by status/type and searched with `/`."""
from __future__ import annotations

from textual.widgets import Select

from bosun_local.tui.formatting import status_colour
from bosun_local.tui.widgets.events_panel import EventsTable
from tests.tui.conftest import Stack, run, wait_for


def shown_messages(table: EventsTable) -> list[str]:
    """Return the shown events' messages, top to bottom."""
    return [table.get_cell(r.key, "message").plain for r in table.ordered_rows]


def test_events_newest_first_with_status_colours(stack: Stack) -> None:
    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            table = app.events_panel.table
            expected = stack.client.list_events(limit=200)
            await wait_for(pilot, lambda: table.event_ids == [e["id"] for e in expected], "all events, newest first")
            top = table.ordered_rows[0].key
            assert table.get_cell(top, "message").plain == "pricing recovered"
            assert table.get_cell(top, "deployment").plain == "pricing"
            for event in expected:
                assert str(table.get_cell(event["id"], "status").style) == status_colour(event["status"])

            # A new event arrives on top without rebuilding the rows already shown.
            before = list(table.event_ids)
            new = stack.client.post_event("drill", "info", "a fresh event", deployment_id=stack.deployments["fraud"])
            await wait_for(pilot, lambda: table.event_ids[:1] == [new["id"]], "the new event on top")
            assert table.event_ids[1:] == before

    run(body())


def test_filter_by_status_and_type_matches_the_service(readonly_stack: Stack) -> None:
    stack = readonly_stack
    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            table = app.events_panel.table
            await wait_for(pilot, lambda: table.row_count > 3, "the events")

            app.query_one("#event-status", Select).value = "failing"
            expected = [e["id"] for e in stack.client.list_events(statuses=["failing"])]
            await wait_for(pilot, lambda: table.event_ids == expected, "the failing events only")
            assert shown_messages(table)[0] == "churn stopped answering"
            assert {table.get_cell(key, "status").plain for key in expected} == {"failing"}

            app.query_one("#event-status", Select).value = ""
            app.query_one("#event-type", Select).value = "deployment_created"
            expected = [e["id"] for e in stack.client.list_events(types=["deployment_created"])]
            assert len(expected) == 3
            await wait_for(pilot, lambda: table.event_ids == expected, "the deployment_created events only")

            # Types first seen in events join the type filter's options.
            type_values = {value for _, value in app.query_one("#event-type", Select)._options}
            assert "drill" in type_values

    run(body())


def test_slash_search_narrows_the_log_and_the_detail_pane(readonly_stack: Stack) -> None:
    stack = readonly_stack
    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            table = app.events_panel.table
            await wait_for(pilot, lambda: table.row_count > 3, "the events")
            await pilot.press("slash")
            await pilot.press(*"stopped answering")
            await wait_for(pilot, lambda: shown_messages(table) == ["churn stopped answering"], "the search result")
            # The filter applies to the detail pane's recent events too.
            app.table.move_cursor(row=app.table.get_row_index(stack.deployments["churn"]))
            await wait_for(pilot, lambda: "matching the events filter" in
                           app.query_one("#detail-events").render().plain, "the filtered detail events")
            detail = app.query_one("#detail-events").render().plain
            assert "churn stopped answering" in detail and "latency above target" not in detail

            for _ in range(len("stopped answering")):
                await pilot.press("backspace")
            await wait_for(pilot, lambda: table.row_count > 3, "all events again")

    run(body())
