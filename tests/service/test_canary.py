"""The service's canary schedule on a real service: stepped while passing, promoted past 99 %, rolled back when
failing (with a failing event), driven by the canary model's own figures. A fake agent applies each action."""
from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from bosun_local.client import ServiceClient, ServiceError

from .helpers import Service, unique, wait_for, write_package

OK = {"status": "passing", "msg": "done", "state": None}


@pytest.fixture(scope="module")
def packages(service: Service, tmp_path_factory: pytest.TempPathFactory, diabetes_frame: pd.DataFrame) -> list[dict]:
    return [service.client.register_package(write_package(tmp_path_factory.mktemp(f"c{i}"), diabetes_frame))
            for i in range(2)]


def apply_all(client: ServiceClient, env: str) -> list[dict]:
    """Claim and complete every queued action of an environment as a passing fake agent; return them."""
    done = []
    while (action := client.claim_action("canary-agent", 30, environment=env)) is not None:
        done.append(client.complete_action(action["id"], "canary-agent", OK))
    return done


def report(client: ServiceClient, dep: dict, model: str, predictions: int, errors: int = 0) -> None:
    minute = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z")
    client.ingest([{"recordId": unique("r"), "deploymentId": dep["id"], "modelId": model, "minute": minute,
                    "kind": "stats", "predictions": predictions, "systemErrors": errors}])


def test_canary_steps_then_promotes_and_a_failing_one_rolls_back(service: Service, packages: list[dict]) -> None:
    client = service.client
    a, b = packages
    env = client.create_environment(unique("can"), "test")["id"]
    dep = client.create_deployment(a["id"], unique("can"), environment=env)["deployment"]
    apply_all(client, env)
    with pytest.raises(ServiceError) as err:
        client.start_canary(dep["id"], a["id"], percent=20)
    assert err.value.status_code == 409 and "already the champion" in err.value.message
    client.start_canary(dep["id"], b["id"], percent=40, step=30, interval="1s")
    with pytest.raises(ServiceError) as err:
        client.start_canary(dep["id"], b["id"], percent=20)
    assert err.value.status_code == 409 and "already runs canary" in err.value.message
    (started,) = apply_all(client, env)
    assert started["params"]["traffic"]["canary"] == {"modelId": b["id"], "percent": 40}
    assert client.canary(dep["id"])["appliedPercent"] == 40
    assert client.canary(dep["id"])["health"]["status"] == "unknown"  # no requests yet: no step
    report(client, dep, b["id"], 20)
    steps: list[int] = []

    def progressed() -> bool:
        for action in apply_all(client, env):
            if action["type"] == "deployment_traffic_update":
                canary = action["params"]["traffic"]["canary"]
                steps.append(canary["percent"] if canary else 0)
        return client.get_deployment(dep["id"])["packageId"] == b["id"] and not client.list_actions(
            dep["id"], status=("pending", "claimed"))

    wait_for(progressed, "the canary to step up and be promoted", timeout=30)
    assert steps == [70, 0]  # 40 -> 70, then past 99: the replacement and the canary's removal
    types = [e["type"] for e in client.list_events(deployment=dep["id"], limit=200)]
    assert "canary_stepped" in types and "canary_promoted" in types
    assert client.canary(dep["id"])["canary"]["status"] == "promoted"
    assert [h["reason"] for h in client.model_history(dep["id"])] == ["created", "canary_auto_promoted"]

    # A canary that fails is rolled back by the service on its own, with a failing event.
    client.start_canary(dep["id"], a["id"], percent=20)
    apply_all(client, env)
    report(client, dep, a["id"], 5, errors=10)
    wait_for(lambda: client.list_events(deployment=dep["id"], types=["canary_rolled_back"]), "the rollback", 30)
    (event,) = client.list_events(deployment=dep["id"], types=["canary_rolled_back"])
    assert event["status"] == "failing" and "error rate 67%" in event["message"]
    (rollback,) = apply_all(client, env)
    assert rollback["params"]["traffic"]["canary"] is None and rollback["params"]["reason"] == "canary_rolled_back"
    status = client.canary(dep["id"])
    assert status["canary"]["status"] == "rolled_back" and status["appliedPercent"] == 0
    assert client.get_deployment(dep["id"])["packageId"] == b["id"]  # the champion never changed


def test_a_less_accurate_canary_rolls_back_once_actuals_arrive(service: Service, packages: list[dict]) -> None:
    client = service.client
    a, b = packages
    env = client.create_environment(unique("acc"), "test")["id"]
    dep = client.create_deployment(a["id"], unique("acc"), environment=env)["deployment"]
    apply_all(client, env)
    client.start_canary(dep["id"], b["id"], percent=20)
    apply_all(client, env)
    minute = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z")

    def predictions(model: str, ids: list[str], values: list[float]) -> dict:
        return {"recordId": unique("p"), "deploymentId": dep["id"], "modelId": model, "minute": minute,
                "kind": "predictions", "rows": len(ids), "associations": {"ids": ids, "predictions": values}}

    mine, theirs = [f"c{i}" for i in range(12)], [f"h{i}" for i in range(12)]
    truth = [float(100 + i) for i in range(12)]
    client.ingest([predictions(b["id"], mine, [v + 30 for v in truth]),  # the canary is 30 off
                   predictions(a["id"], theirs, [v + 1 for v in truth])])  # the champion 1 off
    report(client, dep, b["id"], 12)
    client.upload_actuals(dep["id"], [{"associationId": i, "actualValue": v} for i, v in
                                      zip(mine + theirs, truth + truth, strict=True)])
    wait_for(lambda: client.list_events(deployment=dep["id"], types=["canary_rolled_back"]), "the rollback", 30)
    (event,) = client.list_events(deployment=dep["id"], types=["canary_rolled_back"])
    assert "its rmse 30 is worse than the champion's 1" in event["message"], event["message"]
    assert client.canary(dep["id"])["canary"]["status"] == "rolled_back"
