"""DataRobot's own clients (`datarobot`, `datarobot-predict`, from PyPI) against a deployment behind traefik.

The clients run with their defaults: `datarobot_predict.deployment.predict(dr.Deployment.get(id), df)` finds the
prediction server through the service's `/api/v2`, then posts to traefik's `/predApi/v1.0/deployments/<id>/...`.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.agent.harness import AgentEnv, agent_env
from tests.conftest import need
from tests.pps.drum_models import unstructured
from tests.pps.explain_packages import explain_package, linear_reference, tree_reference
from tests.pps.packages import DIABETES, diabetes_frame

pytestmark = pytest.mark.docker

try:
    import datarobot as dr
    from datarobot_predict import deployment as drp
except ImportError:  # test dependencies: under CI=true their absence fails the module, never skips it
    dr = drp = None


@pytest.fixture(scope="module")
def stack(stack_images: None) -> Iterator[AgentEnv]:
    need(dr is not None and drp is not None, "datarobot and datarobot-predict are not installed "
                                             "(pip install -e '.[test]')")
    with agent_env("bagdr", agent_args=["--status-interval-sec", "1"]) as env:
        yield env


@pytest.fixture(scope="module")
def deployed(stack: AgentEnv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Deploy a linear and a forest model; connect the DataRobot client to the service (the user's two settings)."""
    root = tmp_path_factory.mktemp("drpkgs")
    ids = {}
    for kind in ("linear", "forest"):
        package = explain_package(root / kind, kind)
        package_id = str(stack.cli_json("packages", "register", str(package))["id"])
        answer = stack.cli_json("deploy", package_id, "--name", f"dr-{kind}", "--wait")
        assert answer["deployment"]["state"] == "ready", stack.log_tail()
        ids[kind] = answer["deployment"]["id"]
    token = (stack.home / "token").read_text().strip()
    dr.Client(endpoint=f"{stack.service_url}/api/v2", token=token)
    drp.clear_context()  # datarobot-predict caches its HTTP client per context; build it from this Client
    return ids


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    x, _ = diabetes_frame()
    return x.iloc[[3, 11, 58, 200, 401]].reset_index(drop=True).assign(id=["r1", "r2", "r3", "r4", "r5"])


def ours(stack: AgentEnv, deployment_id: str, rows: pd.DataFrame, **params: Any) -> list[dict[str, Any]]:
    """Return our own `/deployments/<id>/predictions` answer for the rows (the reference values)."""
    resp = httpx.post(f"{stack.web}/deployments/{deployment_id}/predictions", params=params, timeout=30,
                      json=rows[DIABETES].to_dict("records"))
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def test_out_of_the_box_predict(stack: AgentEnv, deployed: dict[str, str], rows: pd.DataFrame) -> None:
    deployment = dr.Deployment.get(deployed["linear"])
    assert deployment.default_prediction_server["url"] == stack.web
    result = drp.predict(deployment, rows)
    assert list(result.dataframe.columns) == ["y_PREDICTION"]
    assert result.dataframe["y_PREDICTION"].tolist() == [r["prediction"] for r in ours(stack, deployed["linear"],
                                                                                       rows)]
    assert int(result.response_headers["X-DataRobot-Execution-Time"]) >= 0
    # The Portable Prediction Server style: an explicit endpoint and a deployment id.
    explicit = drp.predict(deployed["linear"], rows, prediction_endpoint=f"{stack.web}/predApi/v1.0")
    assert explicit.dataframe.equals(result.dataframe)


def test_passthrough(stack: AgentEnv, deployed: dict[str, str], rows: pd.DataFrame) -> None:
    deployment = dr.Deployment.get(deployed["linear"])
    some = drp.predict(deployment, rows, passthrough_columns={"id"}).dataframe
    assert some["id"].tolist() == rows["id"].tolist() and "y_PREDICTION" in some
    everything = drp.predict(deployment, rows, passthrough_columns="all").dataframe
    for column in rows.columns:
        assert everything[column].tolist() == rows[column].tolist(), column
    raw = httpx.post(f"{stack.web}/predApi/v1.0/deployments/{deployed['linear']}/predictions", timeout=30,
                     params={"passthroughColumns": "id"}, json=rows.to_dict("records")).json()["data"]
    assert [r["passthroughValues"]["id"] for r in raw] == rows["id"].tolist()


def _strengths(frame: pd.DataFrame, width: int) -> np.ndarray:
    out = np.full((len(frame), len(DIABETES)), np.nan)
    for i in range(len(frame)):
        for n in range(1, width + 1):
            out[i, DIABETES.index(frame[f"EXPLANATION_{n}_FEATURE_NAME"][i])] = frame[f"EXPLANATION_{n}_STRENGTH"][i]
    return out


@pytest.mark.parametrize("kind", ["linear", "forest"])
def test_explanations_equal_the_reference(stack: AgentEnv, deployed: dict[str, str], rows: pd.DataFrame,
                                          kind: str) -> None:
    deployment = dr.Deployment.get(deployed[kind])
    frame = drp.predict(deployment, rows, max_explanations=10).dataframe
    reference = linear_reference(kind, rows) if kind == "linear" else tree_reference(kind, rows)[0]
    np.testing.assert_allclose(_strengths(frame, 10), reference, rtol=1e-6, atol=1e-6)
    assert frame["y_PREDICTION"].tolist() == [r["prediction"] for r in ours(stack, deployed[kind], rows)]
    top = drp.predict(deployment, rows, max_explanations=2).dataframe
    assert "EXPLANATION_2_STRENGTH" in top and "EXPLANATION_3_STRENGTH" not in top
    ranked = np.sort(np.abs(reference), axis=1)[:, ::-1][:, 0]
    np.testing.assert_allclose(top["EXPLANATION_1_STRENGTH"].abs(), ranked, rtol=1e-6)
    median = float(np.median(frame["y_PREDICTION"]))
    high = drp.predict(deployment, rows, max_explanations=1, threshold_high=median).dataframe
    explained = high["EXPLANATION_1_FEATURE_NAME"].notna()
    assert explained.tolist() == (high["y_PREDICTION"] > median).tolist()
    via_ours = ours(stack, deployed[kind], rows, maxExplanations=10)
    assert [len(r["predictionExplanations"]) for r in via_ours] == [10] * len(rows)


def test_unstructured(stack: AgentEnv, deployed: dict[str, str], tmp_path: Path) -> None:
    package_id = str(stack.cli_json("packages", "register", str(unstructured(tmp_path / "wordcount")))["id"])
    answer = stack.cli_json("deploy", package_id, "--name", "dr-unstructured", "--wait")
    assert answer["deployment"]["state"] == "ready", stack.log_tail()
    deployment = dr.Deployment.get(answer["deployment"]["id"])
    result = drp.predict_unstructured(deployment, "one two three", content_type="text/plain; charset=utf-8")
    ours = httpx.post(f"{stack.web}/deployments/{deployment.id}/predictionsUnstructured", content=b"one two three",
                      headers={"Content-Type": "text/plain; charset=utf-8"}, timeout=30)
    assert result.data == ours.content and result.data.startswith(b"counted: 3 words")
    frame = drp.predict_unstructured(deployment, pd.DataFrame({"text": ["a b", "c"]}))
    assert frame.data.startswith(b"counted: 4 words"), frame.data  # the CSV "text\na b\nc\n" has 4 words
    with pytest.raises(dr.errors.ClientError) as caught:  # a structured deployment says where to go instead
        drp.predict_unstructured(dr.Deployment.get(deployed["linear"]), b"some bytes", content_type="text/plain")
    assert caught.value.status_code == 422 and "structured model" in str(caught.value)


def test_predapi_csv_through_traefik(stack: AgentEnv, deployed: dict[str, str], rows: pd.DataFrame) -> None:
    resp = httpx.post(f"{stack.web}/predApi/v1.0/deployments/{deployed['forest']}/predictions", timeout=30,
                      content=rows.to_csv(index=False).encode(), headers={"Content-Type": "text/csv",
                                                                          "Accept": "text/csv"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv"), resp.text
    table = pd.read_csv(io.BytesIO(resp.content))
    assert table["y_PREDICTION"].tolist() == [r["prediction"] for r in ours(stack, deployed["forest"], rows)]
    other = httpx.post(f"{stack.web}/predApi/v1.0/deployments/not-deployed/predictions", timeout=30, json=[{}])
    assert other.status_code == 404

