"""The service's side of replicas: a scale request queued as deployment_scale, its config, keyValueConfig after."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bosun_local.client import ServiceError
from bosun_local.plugins.framework.bosun_plugin_base import execute_action
from bosun_local.plugins.test.plugin import BosunTestPlugin

from .helpers import Service, unique, write_package

OK = {"status": "passing", "msg": "done", "state": None}


def test_scale_is_queued_configured_and_kept_in_key_value_config(service: Service, tmp_path: Path,
                                                                 diabetes_frame: pd.DataFrame) -> None:
    client = service.client
    env = client.create_environment(unique("scale"), "test")["id"]
    package = client.register_package(write_package(tmp_path, diabetes_frame), name=unique("scale"))
    dep = client.create_deployment(package["id"], unique("scale"), environment=env,
                                   key_value_config={"memory": "256m"})["deployment"]
    start = client.claim_action("scale-agent", 30, environment=env)
    assert start is not None
    client.complete_action(start["id"], "scale-agent", OK)
    answer = client.scale_deployment(dep["name"], 3, reason="autoscale", detail={"inFlight": 9.5})
    assert answer["action"]["type"] == "deployment_scale"
    assert answer["action"]["params"] == {"replicas": 3, "reason": "autoscale", "detail": {"inFlight": 9.5}}
    assert client.scale_deployment(dep["id"], 3, reason="autoscale", detail={"inFlight": 9.5})["coalesced"]
    events = client.list_events(deployment=dep["id"], types=["action_queued"])
    assert any("default -> 3 replicas (autoscale)" in e["message"] for e in events), events
    action = client.claim_action("scale-agent", 30, environment=env)
    assert action is not None and action["id"] == answer["action"]["id"]
    config = client.action_config(dep["id"], "deployment_scale", action["id"])
    # The plugin runs with the wanted count; the deployment keeps its other keys.
    assert config["deploymentInfo"]["keyValueConfig"] == {"memory": "256m", "replicas": 3}
    assert client.get_deployment(dep["id"])["keyValueConfig"] == {"memory": "256m"}
    client.complete_action(action["id"], "scale-agent", {**OK, "state": "ready"})
    after = client.get_deployment(dep["id"])
    assert after["keyValueConfig"] == {"memory": "256m", "replicas": 3} and after["state"] == "ready"
    # A failed scale leaves keyValueConfig as it was.
    client.scale_deployment(dep["id"], 1)
    failing = client.claim_action("scale-agent", 30, environment=env)
    assert failing is not None
    client.complete_action(failing["id"], "scale-agent", {"status": "failing", "msg": "no room", "state": "ready"})
    assert client.get_deployment(dep["id"])["keyValueConfig"]["replicas"] == 3
    for bad in (0, 65):
        with pytest.raises(ServiceError) as err:
            client.scale_deployment(dep["id"], bad)
        assert err.value.status_code == 422
    client.stop_deployment(dep["id"])
    with pytest.raises(ServiceError) as stopped:
        client.scale_deployment(dep["id"], 2)
    assert stopped.value.status_code == 409 and "stopped, not running" in stopped.value.message


def test_a_plugin_without_replicas_answers_unsupported() -> None:
    status = execute_action(BosunTestPlugin({"tmp_dir": "/tmp"}), "deployment_scale",
                            {"id": "d1", "modelId": "m1", "modelExecutionType": "dedicated",
                             "keyValueConfig": {"replicas": 2}})
    assert status.status == "unknown" and status.data == {"unsupported": True}
    assert "does not support deployment_scale" in (status.msg or "")
