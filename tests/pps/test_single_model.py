"""Single-model mode: every route and input format, regression, binary classification and a custom model."""
from __future__ import annotations

import csv
import io
import math

import pytest

from tests.pps.conftest import PPSServer
from tests.pps.packages import DIABETES, FORM, ROW, regression_prediction

CSV_BODY = ",".join(DIABETES) + "\n" + ",".join(str(ROW[n]) for n in DIABETES) + "\n" + \
    ",".join(str(ROW[n] + 1) for n in DIABETES) + "\n"
EXPECTED = regression_prediction(ROW)
EXPECTED_2 = regression_prediction({n: v + 1 for n, v in ROW.items()})
BINARY_ROW = {**ROW, "sex": "m"}


def test_form_predict_get_body_like_the_workshop_curl(module_servers: dict[str, PPSServer]) -> None:
    resp = module_servers["regression"].client.request(
        "GET", "/predict", content=FORM, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["prediction"] == pytest.approx(EXPECTED)


def test_form_predict_query_string_and_post(module_servers: dict[str, PPSServer]) -> None:
    client = module_servers["regression"].client
    assert client.get("/predict?" + FORM).json()["prediction"] == pytest.approx(EXPECTED)
    resp = client.post("/predict", data={k: str(v) for k, v in ROW.items()})
    assert resp.json()["prediction"] == pytest.approx(EXPECTED)


def test_predictions_csv_and_json_agree(module_servers: dict[str, PPSServer]) -> None:
    client = module_servers["regression"].client
    by_csv = client.post("/predictions", content=CSV_BODY, headers={"Content-Type": "text/csv"}).json()
    records = [ROW, {n: v + 1 for n, v in ROW.items()}]
    by_json = client.post("/predictions", json=records).json()
    wrapped = client.post("/predictions", json={"data": records}).json()
    for doc in (by_csv, by_json, wrapped):
        assert [r["rowId"] for r in doc["data"]] == [0, 1]
        assert [r["prediction"] for r in doc["data"]] == pytest.approx([EXPECTED, EXPECTED_2])
        assert doc["data"][0]["predictionValues"] == [{"label": "y", "value": doc["data"][0]["prediction"]}]


def test_csv_columns_in_any_order_and_csv_response(module_servers: dict[str, PPSServer]) -> None:
    order = list(reversed(DIABETES))
    body = ",".join(order) + "\n" + ",".join(str(ROW[n]) for n in order) + "\n"
    resp = module_servers["regression"].client.post(
        "/predictions", content=body, headers={"Content-Type": "text/csv", "Accept": "text/csv"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert rows[0]["rowId"] == "0" and float(rows[0]["prediction"]) == pytest.approx(EXPECTED)


def test_binary_classifier_probabilities_and_labels(module_servers: dict[str, PPSServer]) -> None:
    client = module_servers["binary"].client
    low = {**BINARY_ROW, "bmi": 18, "s5": 3.5}
    high = {**BINARY_ROW, "bmi": 40, "s5": 6}
    doc = client.post("/predictions", json=[low, high]).json()
    labels = [r["prediction"] for r in doc["data"]]
    assert labels == ["no", "yes"]
    for row in doc["data"]:
        values = {v["label"]: v["value"] for v in row["predictionValues"]}
        assert list(values) == ["no", "yes"]
        assert math.isclose(sum(values.values()), 1.0)
        assert row["prediction"] == max(values, key=values.__getitem__)
    csv_resp = client.post("/predictions", json=[low], headers={"Accept": "text/csv"})
    header = csv_resp.text.splitlines()[0].split(",")
    assert header == ["rowId", "prediction", "high_no_PREDICTION", "high_yes_PREDICTION"]
    form = client.get("/predict", params={k: str(v) for k, v in high.items()}).json()
    assert form["prediction"] == "yes" and [v["label"] for v in form["predictionValues"]] == ["no", "yes"]


def test_custom_model_hooks(module_servers: dict[str, PPSServer]) -> None:
    client = module_servers["custom"].client
    doc = client.post("/predictions", json=[{"x": 1, "delay": 0}, {"x": 10, "delay": 0}]).json()
    assert [r["prediction"] for r in doc["data"]] == [3.0, 21.0]  # 2x + offset 1 read by load_model()
    assert client.get("/predict?x=4&delay=0").json() == {"prediction": 9.0}


def test_v2_infer_column_tensors_and_single_tensor(module_servers: dict[str, PPSServer]) -> None:
    client = module_servers["regression"].client
    columns = {"inputs": [{"name": n, "shape": [2], "datatype": "FP64", "data": [ROW[n], ROW[n] + 1]}
                          for n in DIABETES], "id": "req-1"}
    doc = client.post("/v2/models/diabetes/infer", json=columns).json()
    assert doc["model_name"] == "diabetes" and doc["id"] == "req-1" and doc["model_version"] == "model-regression"
    assert doc["outputs"][0]["name"] == "predict" and doc["outputs"][0]["shape"] == [2]
    assert doc["outputs"][0]["data"] == pytest.approx([EXPECTED, EXPECTED_2])
    matrix = {"inputs": [{"name": "input-0", "shape": [1, 10], "datatype": "FP64",
                          "data": [[ROW[n] for n in DIABETES]]}]}
    by_id = client.post("/v2/models/dep-regression/infer", json=matrix).json()
    assert by_id["outputs"][0]["data"] == pytest.approx([EXPECTED])


def test_v2_classifier_and_metadata(module_servers: dict[str, PPSServer]) -> None:
    client = module_servers["binary"].client
    body = {"inputs": [{"name": n, "shape": [1], "datatype": "BYTES" if n == "sex" else "FP64",
                        "data": [BINARY_ROW[n]]} for n in DIABETES]}
    doc = client.post("/v2/models/diabetes-high/infer", json=body).json()
    outputs = {o["name"]: o for o in doc["outputs"]}
    assert outputs["predict"]["data"][0] in ("no", "yes")
    assert outputs["predict_proba"]["shape"] == [1, 2] and sum(outputs["predict_proba"]["data"]) == pytest.approx(1)
    meta = client.get("/v2/models/diabetes-high").json()
    assert [i["name"] for i in meta["inputs"]] == DIABETES and meta["inputs"][1]["datatype"] == "BYTES"
    ready = client.get("/v2/models/diabetes-high/ready")
    assert (ready.status_code, ready.content) == (200, b"")
    assert client.get("/v2/health/ready").status_code == 200 and client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/models/other").status_code == 404


def test_status_routes(module_servers: dict[str, PPSServer]) -> None:
    client = module_servers["binary"].client
    assert client.get("/ping").json() == {"message": "OK"}
    assert client.get("/health").json() == {"status": "ok"}
    info = client.get("/info").json()
    assert info["mode"] == "single" and info["deploymentId"] == "dep-binary" and info["modelId"] == "model-binary"
    assert info["targetType"] == "binary" and info["classNames"] == ["no", "yes"]
    assert [f["name"] for f in info["features"]] == DIABETES and info["features"][1]["type"] == "categorical"
    assert {"python", "sklearn", "numpy", "bosunLocal"} <= set(info["versions"])


@pytest.mark.parametrize("path", ["predictions", "predict", "ping", "health", "info", "v2/models/diabetes/infer"])
def test_traefik_prefixed_routes(module_servers: dict[str, PPSServer], path: str) -> None:
    client = module_servers["regression"].client
    method = "POST" if path in ("predictions", "v2/models/diabetes/infer") else "GET"
    body = {"predictions": {"json": [ROW]},
            "v2/models/diabetes/infer": {"json": {"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP64",
                                                              "data": [ROW[n] for n in DIABETES]}]}},
            }.get(path, {})
    params = ROW if path == "predict" else None
    ours = client.request(method, f"/deployments/dep-regression/{path}", params=params, **body)
    assert ours.status_code == 200, ours.text
    other = client.request(method, f"/deployments/someone-else/{path}", params=params, **body)
    assert other.status_code == 404
    message = other.json().get("message") or other.json().get("error")
    assert "someone-else is not served here" in message and "dep-regression" in message


def test_unknown_route_and_wrong_method(module_servers: dict[str, PPSServer]) -> None:
    client = module_servers["regression"].client
    resp = client.get("/nope")
    assert resp.status_code == 404 and "POST /predictions" in resp.json()["message"]
    resp = client.get("/predictions")
    assert resp.status_code == 405 and resp.headers["allow"] == "POST"
