"""The deployments table and detail pane against a real service: contents, in-place updates, sorting."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime

from bosun_local.contracts.latency import LatencySketch
from bosun_local.tui.widgets.deployments_table import DeploymentsTable
from bosun_local.tui.widgets.detail import DetailPane
from tests.tui.conftest import Stack, run, wait_for, wait_polls


def cells(table: DeploymentsTable, column: str) -> dict[str, str]:
    """Return deployment name -> text of one column."""
    return {table.get_cell(r.key, "name").plain: table.get_cell(r.key, column).plain for r in table.ordered_rows}


def ingest_traffic(stack: Stack, name: str, predictions: int, errors: int, latency_ms: float) -> None:
    """Store one minute of figures for a deployment, as the monitoring agent would."""
    dep_id = stack.deployments[name]
    dep = stack.client.get_deployment(dep_id)
    minute = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z")
    latency = LatencySketch()
    latency.add(latency_ms, predictions)
    baseline = stack.client.baseline(dep_id)
    # Every row in the first bin of each feature: far from the training distribution, so drift shows.
    features = {f: [predictions] + [0] * (len(b.get("edges", b.get("categories", []))))
                for f, b in baseline["features"].items()}
    stack.client.ingest([
        {"recordId": secrets.token_hex(8), "deploymentId": dep_id, "modelId": dep["modelId"], "minute": minute,
         "kind": "stats", "predictions": predictions, "systemErrors": errors,
         "latencySketch": latency.to_wire()},
        {"recordId": secrets.token_hex(8), "deploymentId": dep_id, "modelId": dep["modelId"], "minute": minute,
         "kind": "predictions", "rows": predictions, "featureCounts": features},
    ])


def test_table_shows_each_deployment_with_state_model_url_and_figures(stack: Stack) -> None:
    ingest_traffic(stack, "churn", predictions=400, errors=100, latency_ms=30)

    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            table = app.table
            await wait_for(pilot, lambda: cells(table, "requests").get("churn", "").strip() == "400",
                           "churn's request count")
            assert set(cells(table, "name")) == {"churn", "fraud", "pricing"}
            assert table.row_count == 3
            states = cells(table, "state")
            assert states == {"churn": "launching", "fraud": "errored", "pricing": "ready"}
            assert cells(table, "model") == {"churn": "alpha-model", "fraud": "beta-model", "pricing": "alpha-model"}
            assert cells(table, "url")["pricing"] == "http://127.0.0.1:9/pricing"
            # Which platform each deployment's environment runs on (docker, swarm, k8s, ...).
            platforms = {e["id"]: e["platform"] for e in stack.client.list_environments()}
            assert cells(table, "platform") == {
                name: platforms[stack.client.get_deployment(dep_id)["environmentId"]]
                for name, dep_id in stack.deployments.items()}
            stats = stack.client.stats(stack.deployments["churn"], 300)
            assert cells(table, "p95")["churn"].strip() == f"{stats['latencyP95Ms']:.1f}ms"
            assert cells(table, "errors")["churn"].strip() == "20.0%"
            assert cells(table, "health")["churn"] == f"● {stats['serviceHealth']}"
            assert cells(table, "health")["fraud"] == "● failing"
            assert cells(table, "drift")["churn"].startswith(f"● {stats['drift']['status']}")
            # Colours follow the status vocabulary.
            fraud_key = stack.deployments["fraud"]
            assert str(table.get_cell(fraud_key, "state").style) == "red"
            assert str(table.get_cell(stack.deployments["pricing"], "state").style) == "green"
            assert str(table.get_cell(stack.deployments["churn"], "state").style) == "yellow"

            # The detail pane follows the cursor: the selected deployment's series and feature drift.
            table.move_cursor(row=table.get_row_index(stack.deployments["churn"]))
            detail = app.query_one(DetailPane)
            await wait_for(pilot, lambda: detail.deployment_id == stack.deployments["churn"]
                           and sum(app.query_one("#requests-spark").data or []) == 400, "churn's sparkline")
            drift_text = app.query_one("#detail-drift").render().plain
            assert "x " in drift_text and "colour" in drift_text
            await wait_for(pilot, lambda: "drill" in app.query_one("#detail-events").render().plain, "churn's events")
            events_text = app.query_one("#detail-events").render().plain
            assert "churn stopped answering" in events_text and "pricing recovered" not in events_text

    run(body())


def test_rows_update_in_place_and_deleted_ones_go(stack: Stack) -> None:
    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            table = app.table
            await wait_for(pilot, lambda: table.row_count == 3, "three rows")
            fraud = stack.deployments["fraud"]
            table.move_cursor(row=table.get_row_index(fraud))
            added_rows = []
            table.add_row = lambda *a, **k: added_rows.append(a)  # type: ignore[method-assign]

            stack.client.update_deployment_status(stack.deployments["churn"], state="ready",
                                                  prediction_url="http://127.0.0.1:9/churn")
            await wait_for(pilot, lambda: cells(table, "state")["churn"] == "ready", "churn ready")
            assert cells(table, "url")["churn"] == "http://127.0.0.1:9/churn"
            assert added_rows == [], "an existing deployment's row was rebuilt instead of updated"
            assert table.selected_id == fraud, "the cursor left the selected deployment"

            # An external deployment is deleted at once; a managed one waits for its agent.
            stack.client.delete_deployment(stack.deployments["pricing"])
            stack.client.delete_deployment(stack.deployments["churn"])
            stack.client.stop_deployment(fraud)
            await wait_for(pilot, lambda: table.row_count == 2, "the deleted row to go")
            assert set(cells(table, "name")) == {"churn", "fraud"}
            await wait_for(pilot, lambda: cells(table, "state") == {"churn": "ready→delete", "fraud": "errored→stop"},
                           "the pending delete and stop")
            assert table.selected_id == fraud

    run(body())


def test_sort_by_key_and_by_header_click_keeps_the_cursor(readonly_stack: Stack) -> None:
    stack = readonly_stack
    async def body() -> None:
        app = stack.app()
        async with app.run_test(size=(160, 48)) as pilot:
            table = app.table
            await wait_for(pilot, lambda: table.row_count == 3, "three rows")
            fraud = stack.deployments["fraud"]
            table.move_cursor(row=table.get_row_index(fraud))
            order = lambda: [table.get_cell(r.key, "name").plain for r in table.ordered_rows]  # noqa: E731
            assert order() == ["churn", "fraud", "pricing"]  # creation order

            await pilot.press("o")  # first column: name ascending
            assert table.sort_column == "name" and order() == ["churn", "fraud", "pricing"]
            await pilot.press("o")  # state ascending: errored, launching, ready
            assert table.sort_column == "state"
            assert order() == ["fraud", "churn", "pricing"]
            assert table.selected_id == fraud

            await pilot.click(DeploymentsTable, offset=(3, 0))  # the "name" header
            assert table.sort_column == "name" and not table.sort_reverse
            await pilot.click(DeploymentsTable, offset=(3, 0))
            assert table.sort_reverse and order() == ["pricing", "fraud", "churn"]
            assert table.selected_id == fraud
            await wait_polls(pilot, app, 2)
            assert order() == ["pricing", "fraud", "churn"], "a poll undid the sort"
            assert "name descending" in app.query_one("#env-header").render().plain

    run(body())
