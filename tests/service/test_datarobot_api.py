"""The DataRobot REST subset under /api/v2, driven by DataRobot's own `datarobot` client (installed from PyPI)."""
from __future__ import annotations

import warnings
from pathlib import Path

import httpx
import pandas as pd
import pytest

from .helpers import Service, unique, write_package

try:
    import datarobot as dr
except ImportError:  # a test dependency: under CI=true a missing client is a failure, never a skip
    dr = None


@pytest.fixture(scope="module")
def client(service: Service) -> object:
    from tests.conftest import need

    need(dr is not None, "the datarobot client is not installed (pip install -e '.[test]')")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        made = dr.Client(endpoint=f"{service.url}/api/v2", token=service.token)
    # The client warns when the server's API version is older than the one it expects.
    assert not [w for w in seen if "server version" in str(w.message)], [str(w.message) for w in seen]
    return made


@pytest.fixture(scope="module")
def deployment(service: Service, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "y"})
    package = service.client.register_package(write_package(tmp_path_factory.mktemp("pkg") / "p", pd.DataFrame(
        frame)), name=unique("drpkg"))
    created = service.client.create_deployment(package["id"], unique("drdep"), description="for the DR client")
    return created["deployment"]


def test_version_and_auth_schemes(service: Service) -> None:
    url = f"{service.url}/api/v2/version/"
    for header in (f"Token {service.token}", f"Bearer {service.token}", f"Bearer  {service.token}",
                   f"bearer {service.token}"):
        resp = httpx.get(url, headers={"Authorization": header})
        assert resp.status_code == 200, header
        assert resp.json()["versionString"].startswith("2.")
    for header in ("", f"Basic {service.token}", "Token wrong", f"Token{service.token}"):
        assert httpx.get(url, headers={"Authorization": header}).status_code == 401, header


def test_client_reads_deployments(client: object, deployment: dict, service: Service) -> None:
    got = dr.Deployment.get(deployment["id"])
    assert got.id == deployment["id"] and got.label == deployment["name"]
    assert got.model["id"] == deployment["modelId"] and got.model["target_name"] == "y"
    assert got.prediction_environment["platform"] != "datarobotServerless"
    server = got.default_prediction_server
    env = service.client.get_environment(deployment["environmentId"])
    assert server["url"] == env["pluginConfig"]["outfacingPredictionURLPrefix"].rstrip("/")
    listed = dr.Deployment.list()
    assert deployment["id"] in [d.id for d in listed]
    page = dr.Deployment.list(limit=1, offset=0)
    assert len(page) == 1
    servers = dr.PredictionServer.list()
    assert server["url"] in [s.url for s in servers]


def test_unknown_deployment_is_a_client_error(client: object) -> None:
    with pytest.raises(dr.errors.ClientError) as caught:
        dr.Deployment.get("no-such-deployment")
    assert caught.value.status_code == 404 and "no-such-deployment" in str(caught.value)


def test_pagination_follows_next(service: Service, deployment: dict, tmp_path: Path) -> None:
    headers = {"Authorization": f"Token {service.token}"}
    first = httpx.get(f"{service.url}/api/v2/deployments/", params={"limit": 1}, headers=headers).json()
    assert first["count"] == 1 and first["totalCount"] >= 1
    if first["totalCount"] > 1:
        second = httpx.get(first["next"], headers=headers).json()
        assert second["data"][0]["id"] != first["data"][0]["id"] and second["previous"]


def test_batch_predictions_are_refused_by_name(client: object, deployment: dict) -> None:
    with pytest.raises(dr.errors.ServerError) as caught:
        dr.Deployment.get(deployment["id"]).predict_batch(pd.DataFrame({"age": [1.0]}))
    assert "501" in str(caught.value) and "datarobot_predict.deployment.predict" in str(caught.value)
