"""The k8s plugin without a cluster (none is obtainable here): its manifests against the official OpenAPI schemas of
three Kubernetes minor versions and golden files, and its calls made by the official client to a recording server.

What this does not show: that a real API server accepts the server-side applies, that a real controller rolls the
pods, that an ingress controller routes. See docs/platforms.md.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes import client

from bosun_local.errors import ConfigError
from bosun_local.plugins import load_plugin_class
from bosun_local.plugins.framework.action_status import ActionStatus
from bosun_local.plugins.k8s import KubernetesPlugin
from bosun_local.plugins.k8s.cluster import APPLY, Cluster
from bosun_local.plugins.k8s.manifests import object_name, render_objects
from tests.support.k8s_apiserver import FakeApiServer, fake_apiserver

GOLDEN = Path(__file__).parent / "golden" / "k8s"
# The oldest and newest minor versions the installed kubernetes-validate ships schemas for, and one between.
VERSIONS = ("1.28.0", "1.32.0", "1.36.0")
DEP, MODEL_A, MODEL_B = "6a1b2c3d4e5f6a7b8c9d0e1f", "7b2c3d4e5f6a7b8c9d0e1f2a", "8c3d4e5f6a7b8c9d0e1f2a3b"
SETTINGS: dict[str, Any] = {
    "kubeNamespace": "models", "outfacingPredictionURLPrefix": "https://models.example.com/bosun",
    "generatedImageRepo": "registry.example.com/bosun/models", "ppsBaseImage": "bosun-local/runtime:0.1.0",
    "ingressClass": "nginx", "ppsReplicas": 2, "pollIntervalSec": 0.01, "startTimeoutSec": 4,
    "ppsNodeSelector": {"kubernetes.io/os": "linux"}, "imagePullSecrets": [{"name": "registry"}],
}
MONITORED = {"MLOPS_BOSUN_PRED_ENV_ENABLE_MONITORING": True, "rabbitmqUrl": "amqp://bosun:pw@rabbitmq:5672/%2F",
             "MLOPS_BOSUN_MONITORING_URL": "http://bosun-service:8765", "mlopsApiToken": "token-for-tests"}


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model")
    (path / "model.pkl").write_bytes(b"not loaded here")
    return path


def info(artifact: Path, new_model: str | None = None) -> dict[str, Any]:
    return {"id": DEP, "name": "diabetes", "modelId": MODEL_A, "newModelId": new_model, "modelArtifact": str(artifact),
            "modelExecutionType": "dedicated", "keyValueConfig": {"memory": "768m", "cpus": "0.5"}}


def plugin(server: FakeApiServer, pe_deployments: list[str] | None = None, **extra: Any) -> KubernetesPlugin:
    configuration = client.Configuration()
    configuration.host = server.url
    cluster = Cluster(client.ApiClient(configuration), "models", "bosun-local")
    pe = {"id": "pe1", "name": "cluster", "deployments": pe_deployments} if pe_deployments is not None else None
    return KubernetesPlugin({**SETTINGS, **extra}, pe_info=pe, cluster=cluster)


def validate(obj: dict[str, Any]) -> None:
    """Validate one object against the official schemas of every version (strict: no unknown fields)."""
    for version in VERSIONS:
        kubernetes_validate.validate(obj, version, strict=True)


def as_client_model(obj: dict[str, Any]) -> Any:
    """Load an object into the client's own model class and check nothing was lost on the way back."""
    api = client.ApiClient()
    model = api._ApiClient__deserialize(obj, f"{obj['apiVersion'].split('/')[-1].upper()}{obj['kind']}")
    assert api.sanitize_for_serialization(model) == obj, f"{obj['kind']} has fields the client's model drops"
    return model


CASES: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "start": ({}, MODEL_A, None),
    "start-monitored": (MONITORED, MODEL_A, None),
    "replace-model": ({}, MODEL_B, None),
    "relaunch": ({}, MODEL_A, "2026-12-01T00:00:00Z"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_manifests_validate_and_match_golden_files(case: str, artifact: Path) -> None:
    from bosun_local.plugins.docker.stack import model_service

    extra, model_id, restarted = CASES[case]
    settings = {**KubernetesPlugin.DEFAULT_SETTINGS, **SETTINGS, **extra}
    model = model_service(DEP, model_id, artifact, {"memory": "768m", "cpus": "0.5"})
    objects = render_objects(settings, DEP, model, restarted)
    kinds = [o["kind"] for o in objects]
    assert kinds == ["Deployment", "Service", "Ingress"] + (["Secret", "Deployment"] if extra else [])
    for obj in objects:
        validate(obj)
        as_client_model(obj)
    text = yaml.safe_dump_all(objects, sort_keys=False).replace(str(artifact), "<artifact>")
    golden = GOLDEN / f"{case}.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"rendered manifests differ from {golden} (UPDATE_GOLDEN=1 to accept)"


def test_every_action_through_the_official_client(artifact: Path) -> None:
    name = object_name(DEP)
    with fake_apiserver() as server:
        server.namespaces.add("models")
        k8s = plugin(server, [DEP, "9d4e5f6a7b8c9d0e1f2a3b4c"], **MONITORED)
        started = k8s.plugin_start()
        assert started.status == ActionStatus.OK and "v1.30.4" in started.msg, started.msg
        status = k8s.run_action("deployment_start", info(artifact))
        assert status.status == ActionStatus.OK and status.state == "ready", status.msg
        assert status.data["predictionUrl"] == f"https://models.example.com/bosun/deployments/{DEP}/predictions"
        assert status.data["currentModelId"] == MODEL_A and status.data["availableReplicas"] == 2
        assert {k[0] for k in server.objects} == {"deployments", "services", "ingresses", "secrets"}

        replaced = k8s.run_action("deployment_replace_model", info(artifact, MODEL_B))
        assert replaced.status == ActionStatus.OK and replaced.data["currentModelId"] == MODEL_B, replaced.msg
        deployment = server.objects[("deployments", "models", name)]
        assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":" + MODEL_B)
        assert deployment["metadata"]["generation"] == 2  # the pod template changed: a rolling update

        relaunched = k8s.run_action("deployment_relaunch", info(artifact, None))
        assert relaunched.status == ActionStatus.OK
        assert "io.bosun-local/restartedAt" in server.objects[("deployments", "models", name)]["spec"]["template"][
            "metadata"]["annotations"]
        assert k8s.run_action("deployment_status", info(artifact)).state == "ready"
        assert list(k8s.run_action("deployment_list", None).data) == [DEP]
        pe = k8s.run_action("pe_status", None)
        assert pe.data["deploymentsStatus"][DEP]["state"] == "ready"
        assert pe.data["deploymentsStatus"]["9d4e5f6a7b8c9d0e1f2a3b4c"]["state"] == "stopped"

        # A replacement whose new pods never turn ready: the old ones keep serving, the action fails.
        server.stall.add(name)
        stalled = k8s.run_action("deployment_replace_model", info(artifact, MODEL_A))
        assert stalled.status == ActionStatus.ERROR and stalled.state == "ready"
        assert "ProgressDeadlineExceeded" not in stalled.msg and "timed out progressing" in stalled.msg
        server.stall.clear()

        stopped = k8s.run_action("deployment_stop", info(artifact))
        assert stopped.state == "stopped" and len(stopped.data["deleted"]) == 5 and not server.objects
        assert k8s.run_action("deployment_stop", info(artifact)).msg == "deleted nothing (already gone)"

        patches = server.calls("PATCH")
        assert patches and all(r.content_type == APPLY for r in patches)
        # The client writes Python's True; the API server parses it with Go's strconv.ParseBool, which takes it.
        assert all(r.query.get("fieldManager") == ["bosun-local"] and r.query.get("force") == ["True"]
                   for r in patches)
        for request in patches:  # what the client sent, against the schemas and the client's own models
            validate(request.body)
            as_client_model(request.body)
        paths = {(r.method, r.path) for r in server.requests}
        assert ("GET", f"/apis/apps/v1/namespaces/models/deployments/{name}/status") in paths
        assert ("DELETE", f"/apis/networking.k8s.io/v1/namespaces/models/ingresses/{name}") in paths


def test_plugin_start_names_a_missing_namespace_and_refuses_bad_settings() -> None:
    with fake_apiserver() as server:
        status = plugin(server).plugin_start()
        assert status.status == ActionStatus.ERROR and "namespace models does not exist" in status.msg
    with pytest.raises(ConfigError) as err:
        KubernetesPlugin({**SETTINGS, "ppsBaseImage": "bosun-local/runtime:latest"})
    assert "ppsBaseImage" in err.value.message and "versioned tag" in err.value.message
    with pytest.raises(ConfigError) as err:
        KubernetesPlugin({**SETTINGS, "MLOPS_BOSUN_PRED_ENV_ENABLE_MONITORING": True})
    assert "rabbitmqUrl: is required when monitoring is enabled" in err.value.message


def test_registered_under_both_names() -> None:
    assert load_plugin_class("k8s") is KubernetesPlugin
    assert load_plugin_class("kubernetes") is KubernetesPlugin
