"""DataRobot's prediction routes on the PPS: predApi shapes, passthrough columns, explanations, clear refusals."""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.pps.conftest import PPSServer
from tests.pps.drum_models import all_hooks_input, all_hooks_regression, unstructured
from tests.pps.explain_packages import BANDS, explain_package, linear_reference, tree_reference
from tests.pps.packages import DIABETES, diabetes_frame
from tests.pps.test_multi_model import deploy, wait_for

KINDS = ("linear", "logistic", "forest", "boosting", "knn", "multilogistic", "multiforest")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, packages: dict[str, Path]) -> Iterator[PPSServer]:
    """One multi-model server with a deployment per model kind (d-<kind>), plus unexplainable ones."""
    root = tmp_path_factory.mktemp("dr")
    base = root / "base"
    base.mkdir()
    for kind in KINDS:
        deploy(base, f"d-{kind}", f"m-{kind}", explain_package(root / kind, kind))
    deploy(base, "d-nomean", "m-nomean", explain_package(root / "nomean", "linear", training=False))
    deploy(base, "d-columns", "m-columns", packages["binary"])
    deploy(base, "d-custom", "m-custom", packages["custom"])
    deploy(base, "d-unstructured", "m-unstructured", unstructured(root / "unstructured"))
    deploy(base, "d-hooks", "m-hooks", all_hooks_regression(root / "hooks"))
    srv = PPSServer({"PPS_MULTI_BASE_DIR": str(base), "PPS_WATCH_INTERVAL_SEC": "0.2"}).wait_ready()
    try:
        wait_for(lambda: srv.client.get("/info").json().get("deployments") and
                 len(srv.client.get("/info").json()["deployments"]) == len(KINDS) + 5, "all deployments loaded")
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """Five diabetes rows with an id column the model does not take."""
    x, _ = diabetes_frame()
    return x.iloc[[0, 7, 42, 100, 300]].reset_index(drop=True).assign(id=["a", "b", "c", "d", "e"])


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def predapi(server: PPSServer, deployment: str, body: bytes, params: object = None, accept: str = "application/json",
            content_type: str = "text/csv", action: str = "predictions") -> object:
    return server.client.post(f"/predApi/v1.0/deployments/{deployment}/{action}", content=body, params=params,
                              headers={"Content-Type": content_type, "Accept": accept})


def test_predapi_json_and_csv_equal_predictions(server: PPSServer, rows: pd.DataFrame) -> None:
    features = rows[DIABETES]
    ours = server.client.post("/deployments/d-linear/predictions", json=features.to_dict("records")).json()["data"]
    resp = predapi(server, "d-linear", _csv(rows))
    assert resp.status_code == 200, resp.text
    assert int(resp.headers["x-datarobot-execution-time"]) >= 0
    data = resp.json()["data"]
    assert [r["prediction"] for r in data] == [r["prediction"] for r in ours]
    assert data[0]["predictionValues"] == [{"label": "y", "value": ours[0]["prediction"]}] and data[0]["rowId"] == 0
    table = pd.read_csv(io.BytesIO(predapi(server, "d-linear", _csv(rows), accept="text/csv").content))
    assert list(table.columns) == ["y_PREDICTION"]
    assert table["y_PREDICTION"].tolist() == [r["prediction"] for r in ours]


def test_predapi_binary_columns(server: PPSServer, rows: pd.DataFrame) -> None:
    body = _csv(rows)
    table = pd.read_csv(io.BytesIO(predapi(server, "d-logistic", body, accept="text/csv").content))
    assert list(table.columns) == ["high_yes_PREDICTION", "high_no_PREDICTION", "high_PREDICTION", "THRESHOLD",
                                   "POSITIVE_CLASS"]
    data = predapi(server, "d-logistic", body).json()["data"]
    assert all(r["predictionThreshold"] == 0.5 for r in data)
    assert table["high_PREDICTION"].tolist() == [r["prediction"] for r in data]
    assert table["high_yes_PREDICTION"].tolist() == [r["predictionValues"][1]["value"] for r in data]
    assert set(table["POSITIVE_CLASS"]) == {"yes"}


@pytest.mark.parametrize("kind", ["multilogistic", "multiforest"])
def test_multiclass_columns_and_explanations(server: PPSServer, rows: pd.DataFrame, kind: str) -> None:
    table = pd.read_csv(io.BytesIO(predapi(server, f"d-{kind}", _csv(rows), {"maxExplanations": 10},
                                           accept="text/csv").content))
    assert list(table.columns)[:4] == [f"band_{c}_PREDICTION" for c in BANDS] + ["band_PREDICTION"]
    data = predapi(server, f"d-{kind}", _csv(rows), {"maxExplanations": 10}).json()["data"]
    assert table["band_PREDICTION"].tolist() == [r["prediction"] for r in data]
    assert all(e["label"] == r["prediction"] for r in data for e in r["predictionExplanations"])
    reference = linear_reference(kind, rows) if kind == "multilogistic" else tree_reference(kind, rows)[0]
    np.testing.assert_allclose(_strengths(data), reference, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("route", ["/deployments/d-linear/predictions",
                                   "/predApi/v1.0/deployments/d-linear/predictions"])
def test_passthrough_columns(server: PPSServer, rows: pd.DataFrame, route: str) -> None:
    for params in ({"passthroughColumns": ["id", "bmi"]}, {"passthroughColumnsSet": "all"}):
        resp = server.client.post(route, params=params, json=rows.to_dict("records"))
        assert resp.status_code == 200, resp.text
        values = [r["passthroughValues"] for r in resp.json()["data"]]
        assert [v["id"] for v in values] == rows["id"].tolist()
        assert [v["bmi"] for v in values] == rows["bmi"].tolist()
        if "passthroughColumnsSet" in params:
            assert list(values[0]) == list(rows.columns)
        table = pd.read_csv(io.BytesIO(server.client.post(route, params=params, content=_csv(rows), headers={
            "Content-Type": "text/csv", "Accept": "text/csv"}).content))
        assert table["id"].tolist() == rows["id"].tolist()
    missing = server.client.post(route, params={"passthroughColumns": "nope"}, json=rows.to_dict("records"))
    assert missing.status_code == 422 and "passthrough column(s) nope" in missing.json()["message"]


def test_unknown_columns_strict_on_ours_ignored_on_predapi(server: PPSServer, rows: pd.DataFrame) -> None:
    ours = server.client.post("/deployments/d-linear/predictions", content=_csv(rows),
                              headers={"Content-Type": "text/csv"})
    assert ours.status_code == 422 and "unknown column(s): id" in ours.json()["message"]
    assert predapi(server, "d-linear", _csv(rows)).status_code == 200
    short = predapi(server, "d-linear", _csv(rows.drop(columns=["bmi"])))
    assert short.status_code == 422 and "missing column(s): bmi" in short.json()["message"]


def _strengths(data: list[dict]) -> np.ndarray:
    """Return the explanation strengths as rows x features (in DIABETES order)."""
    out = np.full((len(data), len(DIABETES)), np.nan)
    for i, row in enumerate(data):
        for e in row["predictionExplanations"]:
            out[i, DIABETES.index(e["feature"])] = e["strength"]
    return out


@pytest.mark.parametrize("kind", ["linear", "logistic"])
def test_linear_explanations_are_exact(server: PPSServer, rows: pd.DataFrame, kind: str) -> None:
    resp = predapi(server, f"d-{kind}", _csv(rows), params={"maxExplanations": 10})
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    np.testing.assert_allclose(_strengths(data), linear_reference(kind, rows), rtol=1e-9, atol=1e-9)
    first = data[0]["predictionExplanations"]
    assert [abs(e["strength"]) for e in first] == sorted((abs(e["strength"]) for e in first), reverse=True)
    assert first[0]["qualitativeStrength"] in ("+++", "---") and first[0]["featureValue"] == rows.loc[0, first[0][
        "feature"]]
    assert first[0]["label"] == ("y" if kind == "linear" else "yes")


@pytest.mark.parametrize("kind", ["forest", "boosting"])
def test_tree_explanations_are_treeshap(server: PPSServer, rows: pd.DataFrame, kind: str) -> None:
    data = predapi(server, f"d-{kind}", _csv(rows), params={"maxExplanations": "all"}).json()["data"]
    values, base = tree_reference(kind, rows)
    np.testing.assert_allclose(_strengths(data), values, rtol=1e-7, atol=1e-7)
    if kind == "forest":  # additive: base + contributions = the prediction
        predictions = np.array([r["prediction"] for r in data])
        np.testing.assert_allclose(base + values.sum(axis=1), predictions, rtol=1e-6)


def test_max_explanations_and_thresholds(server: PPSServer, rows: pd.DataFrame) -> None:
    plain = predapi(server, "d-linear", _csv(rows)).json()["data"]
    assert "predictionExplanations" not in plain[0]
    assert "predictionExplanations" not in predapi(server, "d-linear", _csv(rows), {"maxExplanations": 0}).json()[
        "data"][0]
    top3 = predapi(server, "d-linear", _csv(rows), {"maxExplanations": 3}).json()["data"]
    assert all(len(r["predictionExplanations"]) == 3 for r in top3)
    assert [r["prediction"] for r in top3] == [r["prediction"] for r in plain]
    predictions = sorted(r["prediction"] for r in plain)
    high, low = predictions[3] - 1e-6, predictions[1] + 1e-6
    data = predapi(server, "d-linear", _csv(rows), {"maxExplanations": 2, "thresholdHigh": high,
                                                     "thresholdLow": low}).json()["data"]
    explained = [r["prediction"] for r in data if r["predictionExplanations"]]
    assert sorted(explained) == predictions[:2] + predictions[3:]
    table = pd.read_csv(io.BytesIO(predapi(server, "d-linear", _csv(rows), {"maxExplanations": 2},
                                           accept="text/csv").content))
    assert list(table.columns)[1:5] == ["EXPLANATION_1_FEATURE_NAME", "EXPLANATION_1_STRENGTH",
                                        "EXPLANATION_1_ACTUAL_VALUE", "EXPLANATION_1_QUALITATIVE_STRENGTH"]
    assert table["EXPLANATION_1_STRENGTH"].tolist() == [r["predictionExplanations"][0]["strength"] for r in top3]


def test_explanations_on_our_predictions_route(server: PPSServer, rows: pd.DataFrame) -> None:
    resp = server.client.post("/deployments/d-linear/predictions", params={"maxExplanations": 10},
                              json=rows[DIABETES].to_dict("records"))
    np.testing.assert_allclose(_strengths(resp.json()["data"]), linear_reference("linear", rows), rtol=1e-9)


@pytest.mark.parametrize(("deployment", "why"), [
    ("d-knn", "sklearn.neighbors"), ("d-nomean", "no training data"), ("d-columns", "categorical"),
    ("d-custom", "custom model")])
def test_unexplainable_models_are_a_clear_422(server: PPSServer, rows: pd.DataFrame, deployment: str,
                                              why: str) -> None:
    resp = predapi(server, deployment, _csv(rows), {"maxExplanations": 3})
    assert resp.status_code == 422, resp.text
    message = resp.json()["message"]
    assert "prediction explanations are not available" in message and why in message
    assert predapi(server, deployment, _csv(rows), {"maxExplanations": 0}).status_code in (200, 422)


@pytest.mark.parametrize(("params", "status", "words"), [
    ({"maxExplanations": "many"}, 400, "whole number"), ({"thresholdHigh": "x"}, 400, "not a number"),
    ({"forecastPoint": "2020-01-01"}, 422, "time-series"), ({"passthroughColumnsSet": "some"}, 422, "only value"),
    ({"passthroughColumnsSet": "all", "passthroughColumns": "id"}, 422, "not both"),
    ({"explanationAlgorithm": "lime"}, 422, "shap"), ({"maxNgramExplanations": 3}, 422, "n-gram")])
def test_bad_parameters_are_refused(server: PPSServer, rows: pd.DataFrame, params: dict, status: int,
                                    words: str) -> None:
    resp = predapi(server, "d-linear", _csv(rows), params)
    assert resp.status_code == status and words in resp.json()["message"], resp.text


def test_predapi_routing_errors(server: PPSServer, rows: pd.DataFrame) -> None:
    assert predapi(server, "d-missing", _csv(rows)).status_code == 404
    assert server.client.get("/predApi/v1.0/deployments/d-linear/predictions").status_code == 405
    assert predapi(server, "d-linear", _csv(rows), action="explain").status_code == 404
    resp = predapi(server, "d-linear", b"hello", content_type="text/plain", action="predictionsUnstructured")
    assert resp.status_code == 422 and "structured model" in resp.json()["message"]
    resp = predapi(server, "d-linear", json.dumps({"x": 1}).encode(), content_type="application/xml")
    assert resp.status_code == 415


def test_predapi_unstructured_equals_the_drum_route(server: PPSServer) -> None:
    for query, content_type in (("", "text/plain; charset=utf-8"), ("?ret_mode=binary", "text/plain")):
        ours = server.client.post(f"/deployments/d-unstructured/predictionsUnstructured{query}",
                                  content=b"one two three", headers={"Content-Type": content_type})
        resp = server.client.post(f"/predApi/v1.0/deployments/d-unstructured/predictionsUnstructured{query}",
                                  content=b"one two three", headers={"Content-Type": content_type})
        assert resp.status_code == 200 and resp.content == ours.content, resp.text
        assert resp.headers["content-type"] == ours.headers["content-type"]
    assert resp.content == (3).to_bytes(4, "big")
    rows = predapi(server, "d-unstructured", b"x\n1\n")
    assert rows.status_code == 422 and "predictionsUnstructured" in rows.json()["message"]


def test_predapi_on_a_drum_model_reading_its_own_input(server: PPSServer) -> None:
    body = all_hooks_input()
    ours = server.client.post("/deployments/d-hooks/predictions", content=body, headers={"Content-Type": "text/csv"})
    resp = predapi(server, "d-hooks", body)
    assert resp.status_code == 200 and ours.status_code == 200, resp.text
    assert [r["prediction"] for r in resp.json()["data"]] == [r["prediction"] for r in ours.json()["data"]]
    refused = predapi(server, "d-hooks", body, {"maxExplanations": 2})
    assert refused.status_code == 422 and "custom model" in refused.json()["message"]
