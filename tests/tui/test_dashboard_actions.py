"""Each key action reaches the service: deploy, replace model, stop/start, relaunch, delete (confirmed), focus, quit."""
from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from bosun_local.tui.app import DashboardApp
from bosun_local.tui.screens import ConfirmScreen, DeployScreen, ReplaceModelScreen
from bosun_local.tui.widgets.events_panel import EventsTable
from tests.tui.conftest import Stack, run, wait_for


def pending_types(stack: Stack, name: str) -> list[str]:
    """Return the types of a deployment's unfinished actions, oldest first."""
    actions = stack.client.list_actions(stack.deployments[name], status=("pending", "claimed"))
    return [a["type"] for a in reversed(actions)]


async def select(pilot: Pilot[None], app: DashboardApp, deployment_id: str) -> None:
    """Put the table cursor on a deployment."""
    table = app.table
    await wait_for(pilot, lambda: deployment_id in table.deployments, "the deployment's row")
    table.move_cursor(row=table.get_row_index(deployment_id))
    await pilot.pause()


def test_deploy_modal_creates_a_deployment(stack: Stack) -> None:
    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: app.table.row_count == 3, "the deployments")
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen), "the deploy modal")
            options = app.screen.query_one("#deploy-packages", OptionList)
            labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
            assert any(label.startswith("alpha-model") for label in labels)
            assert any(label.startswith("beta-model") for label in labels)
            beta_index = next(i for i, label in enumerate(labels) if label.startswith("beta-model"))
            options.highlighted = beta_index
            await pilot.press("enter")  # choose the package: focus moves to the name, prefilled with it
            name_input = app.screen.query_one("#deploy-name", Input)
            assert name_input.has_focus and name_input.value == "beta-model"
            name_input.value = ""
            await pilot.press(*"scoring")
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, DeployScreen), "the modal to close")
            await wait_for(pilot, lambda: any(d["name"] == "scoring" for d in stack.client.list_deployments()),
                           "the new deployment in the service")
            created = next(d for d in stack.client.list_deployments() if d["name"] == "scoring")
            assert created["packageId"] == stack.packages["beta-model"]
            actions = stack.client.list_actions(created["id"])
            assert [a["type"] for a in actions] == ["deployment_start"]
            await wait_for(pilot, lambda: app.table.row_count == 4, "the new row")

    run(body())


def test_deploy_modal_requires_a_name_and_escape_cancels(readonly_stack: Stack) -> None:
    stack = readonly_stack
    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen), "the deploy modal")
            app.screen.query_one("#deploy-name", Input).focus()
            await pilot.press("enter")
            assert isinstance(app.screen, DeployScreen)
            assert "give the deployment a name" in str(app.screen.query_one("#deploy-error").render())
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, DeployScreen), "the modal to close")
            assert len(stack.client.list_deployments()) == 3

    run(body())


def test_replace_stop_start_relaunch_keys_enqueue_actions(stack: Stack) -> None:
    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            await select(pilot, app, stack.deployments["churn"])
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, ReplaceModelScreen), "the replace modal")
            options = app.screen.query_one("#replace-packages", OptionList)
            labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
            options.highlighted = next(i for i, label in enumerate(labels) if label.startswith("beta-model"))
            await pilot.press("enter")
            await wait_for(pilot, lambda: "deployment_replace_model" in pending_types(stack, "churn"),
                           "the replace action")
            action = stack.client.list_actions(stack.deployments["churn"], status=("pending",))[0]
            assert action["params"]["newPackageId"] == stack.packages["beta-model"]

            await pilot.press("l")
            await wait_for(pilot, lambda: "deployment_relaunch" in pending_types(stack, "churn"), "the relaunch")

            await select(pilot, app, stack.deployments["fraud"])
            await pilot.press("s")
            await wait_for(pilot, lambda: "deployment_stop" in pending_types(stack, "fraud"), "the stop")
            await wait_for(pilot, lambda: app.table.deployments[stack.deployments["fraud"]]["desiredState"]
                           == "stopped", "the table to see the stop")
            await pilot.press("s")  # now it wants to be stopped, so s starts it again
            await wait_for(pilot, lambda: pending_types(stack, "fraud")[-1:] == ["deployment_start"], "the start")

    run(body())


def test_delete_asks_first_and_only_yes_deletes(stack: Stack) -> None:
    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            await select(pilot, app, stack.deployments["fraud"])
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
            assert "fraud" in str(app.screen.query_one(".dialog-title").render())
            await pilot.press("n")
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the confirmation to close")
            await pilot.pause(0.5)
            assert "deployment_delete" not in pending_types(stack, "fraud")

            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
            await pilot.press("y")
            await wait_for(pilot, lambda: "deployment_delete" in pending_types(stack, "fraud"), "the delete action")
            assert stack.client.get_deployment(stack.deployments["fraud"])["desiredState"] == "deleted"

    run(body())


def test_refused_action_is_shown_and_the_app_keeps_running(stack: Stack) -> None:
    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            await select(pilot, app, stack.deployments["pricing"])
            await pilot.press("l")  # external deployments cannot be relaunched: the service says why
            await wait_for(pilot, lambda: any("relaunch pricing failed" in str(n.message)
                                              for n in app._notifications), "the error notification")
            message = next(str(n.message) for n in app._notifications if "relaunch pricing failed" in str(n.message))
            assert "external" in message and "fix:" in message
            assert app.is_running

    run(body())


def test_focus_keys_palette_and_quit(readonly_stack: Stack) -> None:
    stack = readonly_stack
    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: app.table.row_count == 3, "the deployments")
            await pilot.press("e")
            assert isinstance(app.focused, EventsTable)
            await pilot.press("slash")
            assert app.focused is app.query_one("#event-search", Input)
            await pilot.press("q")  # typed into the search box, not quitting
            assert app.is_running and app.query_one("#event-search", Input).value == "q"
            await pilot.press("escape")
            assert app.focused is app.table

            titles = {c.title for c in app.get_system_commands(app.screen)}
            for title in ("Deploy a package", "Replace model", "Stop / start deployment", "Relaunch deployment",
                          "Delete deployment", "Focus events", "Search events"):
                assert title in titles
            footer_keys = {b.key for (_, b, enabled, _) in app.active_bindings.values() if b.show}
            assert {"d", "r", "s", "l", "x", "e", "slash", "q"} <= footer_keys

            await pilot.press("q")
            await wait_for(pilot, lambda: not app.is_running, "the app to quit", timeout=5)

    run(body())
