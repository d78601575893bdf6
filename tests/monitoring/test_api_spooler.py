"""datarobot-mlops' API spooler and ReportingApiClient against the service's /api/v2 routes, with no agent."""
from __future__ import annotations

import asyncio
import importlib

import pandas as pd

from tests.mlops.reference import reference
from tests.support.monitoring import Service, stats, unique

EACH = 50


def test_api_spooler_reaches_the_service_with_no_agent_and_counts_exactly(service: Service) -> None:
    mlops_mod, event_mod = reference()
    dep = unique("dep-api")
    assert not [a for a in service.client.list_agents() if a["kind"] == "monitoring"], "no agent may run here"
    lib = mlops_mod.MLOps().set_deployment_id(dep).set_model_id("m1").set_api_spooler(service.url, service.token)
    lib.set_feature_types([{"name": "x", "feature_type": "numeric"}]).init()
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    for i in range(EACH):
        lib.report_deployment_stats(2, 7.0, user_error=i % 10 == 0)
        lib.report_predictions_data(frame, [0.5, 1.5, 2.5], association_ids=[f"{dep}-{i}-{j}" for j in range(3)])
    lib.report_aggregated_predictions_data(features_df=pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}),
                                           predictions=[1.5, 1.5, 1.5, 1.5])
    lib.report_actuals([{"associationId": f"{dep}-{i}-0", "actualValue": 0.5} for i in range(EACH)])
    lib.report_deployment_metric("metric-1", 2.5)
    lib.report_event(event_mod.Event(event_mod.EventType.DEP_MODEL_REPLACED, "model replaced"))
    lib.shutdown()
    client_mod = importlib.import_module("datarobot_mlops.common.reporting_api_client")

    async def more_actuals() -> None:
        client = client_mod.ReportingApiClient(service.url, service.token)
        await client.report_actuals_data(dep, [{"associationId": f"{dep}-{i}-1", "actualValue": 1.5,
                                                "wasActedOn": True} for i in range(EACH)])
        await client.shutdown()

    asyncio.run(more_actuals())
    figures = stats(service, dep)
    assert (figures["predictions"], figures["userErrors"]) == (2 * EACH, EACH // 10)
    assert figures["predictionRows"] == 3 * EACH + 4
    assert figures["predictionMean"] == (1.5 * 3 * EACH + 6.0) / (3 * EACH + 4)
    accuracy = figures.get("accuracy") or {}
    assert accuracy.get("matched") == 2 * EACH, figures
    events = [e for e in service.client.list_events(types=["model_deployments.model_replacement"])
              if e["deploymentId"] == dep]
    assert [e["type"] for e in events] == ["model_deployments.model_replacement"]
    assert figures["reportedEvents"] == {"model_deployments.model_replacement": 1}
    (metric,) = figures["customMetrics"]
    assert (metric["metricId"], metric["modelId"], metric["count"], metric["value"]) == ("metric-1", None, 1, 2.5)
