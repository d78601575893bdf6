"""Model history and rollback, and the service's side of challengers and canary (validation, queued actions)."""
from __future__ import annotations

import pandas as pd
import pytest

from bosun_local.client import ServiceError

from .helpers import Service, unique, write_package

OK = {"status": "passing", "msg": "done", "state": None}


@pytest.fixture(scope="module")
def packages(service: Service, tmp_path_factory: pytest.TempPathFactory, diabetes_frame: pd.DataFrame) -> list[dict]:
    return [service.client.register_package(write_package(tmp_path_factory.mktemp(f"p{i}"), diabetes_frame),
                                            name=f"diabetes-h{i}") for i in range(3)]


def _refused(call: object, status: int, text: str) -> None:
    with pytest.raises(ServiceError) as err:
        call()  # type: ignore[operator]
    assert err.value.status_code == status, err.value.message
    assert text in err.value.message, err.value.message


def _run_next(service: Service, env: str) -> dict:
    """Claim the environment's next action as a fake agent and complete it as passing."""
    action = service.client.claim_action("hist-agent", 30, environment=env)
    assert action is not None
    return service.client.complete_action(action["id"], "hist-agent", OK)


def test_history_and_rollback_through_the_queue(service: Service, packages: list[dict]) -> None:
    client = service.client
    env = client.create_environment(unique("hist"), "test")["id"]
    a, b, c = packages
    dep = client.create_deployment(a["id"], unique("hist"), environment=env)["deployment"]
    _run_next(service, env)
    _refused(lambda: client.rollback(dep["id"]), 409, "no earlier model to roll back to")
    client.replace_model(dep["id"], b["id"])
    _run_next(service, env)
    client.replace_model(dep["id"], c["name"])
    _run_next(service, env)
    _refused(lambda: client.rollback(dep["id"], to=c["id"]), 409, "already serves")
    other = client.register_package(write_package(service.home / "never", pd.DataFrame({"x": [1.0], "y": [2.0]})),
                                    name=unique("never"))
    _refused(lambda: client.rollback(dep["id"], to=other["id"]), 422, "never served")
    answer = client.rollback(dep["id"])
    assert answer["action"]["params"] == {"newPackageId": b["id"], "oldPackageId": c["id"], "reason": "rollback"}
    _run_next(service, env)
    client.rollback(dep["id"], to=a["name"])
    _run_next(service, env)
    history = client.model_history(dep["name"])
    assert [(h["modelId"], h["reason"]) for h in history] == [
        (a["id"], "created"), (b["id"], "replace"), (c["id"], "replace"), (b["id"], "rollback"),
        (a["id"], "rollback")]
    assert [h["current"] for h in history] == [False, False, False, False, True]
    assert all(h["until"] for h in history[:-1]) and history[-1]["until"] is None
    assert history[1]["packageName"] == "diabetes-h1" and history[1]["actionId"]
    assert client.get_deployment(dep["id"])["packageId"] == a["id"]


def test_external_history_and_traffic_refused(service: Service, packages: list[dict]) -> None:
    client = service.client
    a, b, _ = packages
    dep = client.create_deployment(a["id"], unique("ext-h"), external=True)["deployment"]
    client.replace_model(dep["id"], b["id"])
    client.rollback(dep["id"])
    assert [h["reason"] for h in client.model_history(dep["id"])] == ["created", "replace", "rollback"]
    _refused(lambda: client.add_challenger(dep["id"], b["id"]), 409, "is external")
    _refused(lambda: client.start_canary(dep["id"], b["id"], percent=20), 409, "is external")


def test_challengers_queue_traffic_updates_and_plugins_without_it_say_unsupported(
        service: Service, packages: list[dict]) -> None:
    client = service.client
    env = client.create_environment(unique("trf"), "test")["id"]
    a, b, c = packages
    dep = client.create_deployment(a["id"], unique("trf"), environment=env,
                                   key_value_config={"maxChallengers": 1, "challengerFeed": "mirror"})["deployment"]
    _run_next(service, env)
    _refused(lambda: client.add_challenger(dep["id"], a["id"]), 409, "is the champion")
    _refused(lambda: client.add_challenger(dep["id"], b["id"], feed="pigeon"), 422, "feed")
    queued = client.add_challenger(dep["id"], b["id"])["action"]
    assert queued["type"] == "deployment_traffic_update"
    # keyValueConfig challengerFeed picks the feed when the request names none.
    assert [(c["modelId"], c["feed"]) for c in queued["params"]["traffic"]["challengers"]] == [(b["id"], "mirror")]
    _refused(lambda: client.add_challenger(dep["id"], b["id"]), 409, "already challenges")
    _refused(lambda: client.add_challenger(dep["id"], c["id"]), 409, "its limit is 1")
    assert [(r["modelId"], r["state"]) for r in client.challengers(dep["id"])] == [(b["id"], "starting")]
    config = client.action_config(dep["id"], "deployment_traffic_update", queued["id"])
    (challenger,) = config["deploymentInfo"]["traffic"]["challengers"]
    assert challenger["modelId"] == b["id"] and challenger["modelArtifact"].endswith(b["id"])
    # The test plugin lacks the extension: its default answer is "unsupported", which fails the action.
    action = client.claim_action("trf-agent", 30, environment=env)
    from bosun_local.plugins.framework.bosun_plugin_base import execute_action
    from bosun_local.plugins.test.plugin import BosunTestPlugin

    status = execute_action(BosunTestPlugin({}), "deployment_traffic_update", config["deploymentInfo"])
    assert status.status == "unknown" and "does not support deployment_traffic_update" in status.msg
    done = client.complete_action(action["id"], "trf-agent", status.to_dict())
    assert done["status"] == "failed"
    assert client.challengers(dep["id"]) == []
    _refused(lambda: client.remove_challenger(dep["id"], b["id"]), 404, "challenger")


def test_compare_side_by_side_with_agreement_and_accuracy(service: Service, packages: list[dict]) -> None:
    from datetime import UTC, datetime

    client = service.client
    env = client.create_environment(unique("cmp"), "test")["id"]
    a, b, _ = packages
    dep = client.create_deployment(a["id"], unique("cmp"), environment=env)["deployment"]
    _run_next(service, env)
    client.add_challenger(dep["id"], b["id"])
    _run_next(service, env)  # a fake agent applied it
    minute = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z")
    ids = [f"row{i}" for i in range(10)]
    champion = [10.0 * (i + 1) for i in range(10)]
    challenger = [v * 1.01 if i < 6 else v * 2 for i, v in enumerate(champion)]  # 6 of 10 within 5 %

    def record(model: str, kind: str, **fields: object) -> dict:
        return {"recordId": unique("r"), "deploymentId": dep["id"], "modelId": model, "minute": minute,
                "kind": kind, **fields}

    client.ingest([
        record(a["id"], "stats", predictions=10), record(b["id"], "stats", predictions=10, systemErrors=1),
        record(a["id"], "predictions", rows=10, associations={"ids": ids, "predictions": champion}),
        record(b["id"], "predictions", rows=10, associations={"ids": ids, "predictions": challenger}),
        record(a["id"], "actuals", actuals=[{"associationId": i, "actualValue": v}
                                            for i, v in zip(ids, champion, strict=True)])])
    rows = {m["role"]: m for m in client.compare(dep["id"])["models"]}
    assert (rows["champion"]["modelId"], rows["challenger"]["modelId"]) == (a["id"], b["id"])
    assert (rows["champion"]["feed"], rows["challenger"]["feed"]) == (None, "replay")  # the default feed
    assert (rows["champion"]["predictions"], rows["challenger"]["predictions"]) == (10, 10)
    assert rows["challenger"]["errors"] == 1 and rows["champion"]["errors"] == 0
    assert rows["challenger"]["agreement"]["compared"] == 10 and rows["challenger"]["agreement"]["rate"] == 0.6
    assert rows["champion"]["agreement"]["rate"] == 1.0
    assert rows["champion"]["accuracy"]["metric"] == "rmse" and rows["champion"]["accuracy"]["value"] == 0.0
    assert rows["challenger"]["accuracy"]["matched"] == 10 and rows["challenger"]["accuracy"]["value"] > 10
    # The deployment's own stats are its clients' requests: the challenger's mirrored ones are left out.
    stats = client.stats(dep["id"])
    assert stats["predictions"] == 10 and stats["systemErrors"] == 0


def test_a_bad_challenger_feed_setting_is_named(service: Service, packages: list[dict]) -> None:
    client = service.client
    env = client.create_environment(unique("feed"), "test")["id"]
    a, b, _ = packages
    dep = client.create_deployment(a["id"], unique("feed"), environment=env,
                                   key_value_config={"challengerFeed": "sometimes"})["deployment"]
    _run_next(service, env)
    _refused(lambda: client.add_challenger(dep["id"], b["id"]), 422, "challengerFeed='sometimes'")
    # Naming the feed in the request does not need the setting.
    assert client.add_challenger(dep["id"], b["id"], feed="replay")["action"]["params"]["traffic"][
        "challengers"][0]["feed"] == "replay"
