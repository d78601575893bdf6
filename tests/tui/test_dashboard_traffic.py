"""The champion/challengers screen: c opens it, a adds a challenger, x removes it, the detail pane shows them."""
from __future__ import annotations

from textual.widgets import DataTable, OptionList

from bosun_local.tui.screens import ReplaceModelScreen
from bosun_local.tui.traffic_screen import TrafficScreen
from bosun_local.tui.widgets.detail import serving_line, traffic_line
from tests.tui.conftest import Stack, run, wait_for
from tests.tui.test_dashboard_actions import select


def test_challengers_screen_adds_and_removes(stack: Stack) -> None:
    churn = stack.deployments["churn"]

    def traffic_actions() -> list[list[str]]:
        actions = stack.client.list_actions(churn, status=("pending", "claimed"))
        return [[c["modelId"] for c in a["params"]["traffic"]["challengers"]] for a in reversed(actions)
                if a["type"] == "deployment_traffic_update"]

    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            await select(pilot, app, churn)
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, TrafficScreen), "the challengers screen")
            screen = app.screen
            table = screen.query_one("#traffic-table", DataTable)
            await wait_for(pilot, lambda: table.row_count == 1, "the champion's row")
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, ReplaceModelScreen), "the package picker")
            options = app.screen.query_one("#replace-packages", OptionList)
            labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
            options.highlighted = next(i for i, label in enumerate(labels) if label.startswith("beta-model"))
            await pilot.press("enter")
            await wait_for(pilot, lambda: traffic_actions() == [[stack.packages["beta-model"]]], "the queued add")
            await wait_for(pilot, lambda: table.row_count == 2, "the challenger's row", timeout=15)
            table.move_cursor(row=1)
            await pilot.press("x")
            await wait_for(pilot, lambda: traffic_actions() == [[stack.packages["beta-model"]], []],
                           "the queued removal")
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, TrafficScreen), "the screen to close")

    run(body())


def test_detail_line_names_challengers_and_canary() -> None:
    dep = {"packageId": "a" * 24, "traffic": {"challengers": [{"modelId": "b" * 24}]},
           "canary": {"modelId": "c" * 24, "percent": 20, "status": "running"}}
    assert traffic_line(dep) == "champion aaaaaaaa; challengers bbbbbbbb; canary cccccccc at 20 % (c: compare)"
    assert traffic_line({"packageId": "a" * 24}) == ""


def test_detail_line_says_how_a_deployment_is_served() -> None:
    kv = {"serving": "dedicated", "replicas": "3"}
    assert serving_line({"keyValueConfig": kv}) == "serving dedicated, 3 replicas"
    kv = {"autoscaleMax": "4", "replicas": 2}
    assert serving_line({"keyValueConfig": kv}) == "autoscale 1-4 replicas, 2 replicas"
    assert serving_line({"keyValueConfig": {"serving": "shared"}}) == "serving shared"
    assert serving_line({"keyValueConfig": {}}) == "" and serving_line({}) == ""
