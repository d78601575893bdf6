"""Open Inference Protocol with tritonclient's defaults: binary tensors, versions, config, stats, repository index."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.conftest import need
from tests.pps.conftest import PPSServer
from tests.pps.packages import DIABETES, ROW

try:
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException
except ImportError:  # a missing test extra fails under CI=true (need), never a silent skip
    triton = None  # type: ignore[assignment]
    InferenceServerException = Exception  # type: ignore[assignment,misc]

ROWS = [ROW, {n: v + 1.5 for n, v in ROW.items()}, {n: v * 0.5 for n, v in ROW.items()}]
BINARY_ROWS = [{**r, "sex": "m" if i % 2 else "f"} for i, r in enumerate(ROWS)]


@pytest.fixture(scope="module")
def clients(module_servers: dict[str, PPSServer]) -> Iterator[dict[str, Any]]:
    need(triton is not None, "tritonclient[http] is not installed: `make venv` installs the test extras")
    made = {kind: triton.InferenceServerClient(server.url.removeprefix("http://"))
            for kind, server in module_servers.items()}
    yield made
    for client in made.values():
        client.close()


def column_inputs(rows: list[dict[str, Any]], binary: bool = True, text: tuple[str, ...] = ()) -> list[Any]:
    """One tensor per feature, as a tritonclient user writes it (binary data is tritonclient's default)."""
    inputs = []
    for name in DIABETES:
        if name in text:
            array = np.array([r[name].encode() for r in rows], dtype=np.object_)
            tensor = triton.InferInput(name, [len(rows)], "BYTES")
        else:
            array = np.array([r[name] for r in rows], dtype=np.float64)
            tensor = triton.InferInput(name, [len(rows)], "FP64")
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


def predictions(server: PPSServer, rows: list[dict[str, Any]]) -> list[Any]:
    response = server.client.post("/predictions", json=rows)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_default_binary_infer_equals_predictions(clients: dict[str, Any], module_servers: dict[str, PPSServer]) -> None:
    client = clients["regression"]
    result = client.infer("diabetes", column_inputs(ROWS), request_id="r1")
    got = result.as_numpy("predict")
    assert got.dtype == np.float64 and got.shape == (3,)
    want = [row["prediction"] for row in predictions(module_servers["regression"], ROWS)]
    assert got.tolist() == want  # identical, not approximately equal
    doc = result.get_response()
    assert doc["id"] == "r1" and doc["model_version"] == "model-regression"
    assert doc["outputs"][0]["parameters"]["binary_data_size"] == 24  # it really came as binary


def test_single_matrix_tensor_json_and_fp32(clients: dict[str, Any], module_servers: dict[str, PPSServer]) -> None:
    client = clients["regression"]
    matrix = np.array([[r[n] for n in DIABETES] for r in ROWS], dtype=np.float64)
    tensor = triton.InferInput("x", list(matrix.shape), "FP64")
    tensor.set_data_from_numpy(matrix, binary_data=False)
    out = triton.InferRequestedOutput("predict", binary_data=False)
    result = client.infer("dep-regression", [tensor], outputs=[out])
    want = [row["prediction"] for row in predictions(module_servers["regression"], ROWS)]
    assert result.as_numpy("predict").tolist() == want
    assert "data" in result.get_response()["outputs"][0]
    whole = np.round(matrix)  # integers are exact in FP32, so the answer must match FP64's
    fp32 = triton.InferInput("x", list(whole.shape), "FP32")
    fp32.set_data_from_numpy(whole.astype(np.float32))
    exact = triton.InferInput("x", list(whole.shape), "FP64")
    exact.set_data_from_numpy(whole)
    assert client.infer("diabetes", [fp32]).as_numpy("predict").tolist() == \
        client.infer("diabetes", [exact]).as_numpy("predict").tolist()


def test_classifier_bytes_inputs_outputs_and_classification(clients: dict[str, Any],
                                                           module_servers: dict[str, PPSServer]) -> None:
    client = clients["binary"]
    result = client.infer("diabetes-high", column_inputs(BINARY_ROWS, text=("sex",)))
    want = predictions(module_servers["binary"], BINARY_ROWS)
    assert [v.decode() for v in result.as_numpy("predict").tolist()] == [r["prediction"] for r in want]
    probs = result.as_numpy("predict_proba")
    assert probs.shape == (3, 2)
    assert probs.tolist() == [[v["value"] for v in r["predictionValues"]] for r in want]
    top = client.infer("diabetes-high", column_inputs(BINARY_ROWS, text=("sex",)),
                       outputs=[triton.InferRequestedOutput("predict_proba", class_count=1)])
    best = [v.decode().split(":") for v in top.as_numpy("predict_proba").reshape(-1).tolist()]
    assert [b[2] for b in best] == [r["prediction"] for r in want]
    assert [float(b[0]) for b in best] == [max(p) for p in probs.tolist()]


def test_versions_ready_metadata_config(clients: dict[str, Any]) -> None:
    client = clients["regression"]
    version = "model-regression"
    result = client.infer("diabetes", column_inputs(ROWS[:1]), model_version=version)
    assert result.get_response()["model_version"] == version
    with pytest.raises(InferenceServerException, match="no version 'v9'.*model-regression"):
        client.infer("diabetes", column_inputs(ROWS[:1]), model_version="v9")
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("diabetes") and client.is_model_ready("diabetes", version)
    assert not client.is_model_ready("diabetes", "v9") and not client.is_model_ready("other")
    meta = client.get_model_metadata("diabetes", version)
    assert meta["versions"] == [version] and [i["name"] for i in meta["inputs"]] == DIABETES
    config = client.get_model_config("diabetes", version)
    assert config["name"] == "diabetes" and [i["name"] for i in config["input"]] == DIABETES
    assert config["output"][0]["name"] == "predict" and config["output"][0]["data_type"] == "TYPE_FP64"
    server = client.get_server_metadata()
    assert {"binary_tensor_data", "statistics", "model_configuration", "model_repository"} <= \
        set(server["extensions"])


def test_stats_count_every_route_and_repository_index(clients: dict[str, Any],
                                                      module_servers: dict[str, PPSServer]) -> None:
    client = clients["regression"]
    before = client.get_inference_statistics("diabetes")["model_stats"][0]
    client.infer("diabetes", column_inputs(ROWS))
    predictions(module_servers["regression"], ROWS[:2])
    after = client.get_inference_statistics("diabetes", "model-regression")["model_stats"][0]
    assert after["version"] == "model-regression"
    assert after["inference_count"] == before["inference_count"] + 5
    assert after["execution_count"] == before["execution_count"] + 2
    success = after["inference_stats"]["success"]
    assert success["count"] == before["inference_stats"]["success"]["count"] + 2 and success["ns"] > 0
    assert after["last_inference"] > 0 and any(b["batch_size"] == 3 for b in after["batch_stats"])
    everything = client.get_inference_statistics()["model_stats"]
    assert [s["name"] for s in everything] == ["dep-regression"]
    index = client.get_model_repository_index()
    assert index == [{"name": "dep-regression", "version": "model-regression", "state": "READY", "reason": ""}]
    with pytest.raises(InferenceServerException, match="model control is not available"):
        client.load_model("diabetes")


def test_compressed_request_and_response(clients: dict[str, Any], module_servers: dict[str, PPSServer]) -> None:
    client = clients["regression"]
    result = client.infer("diabetes", column_inputs(ROWS), request_compression_algorithm="gzip")
    want = [row["prediction"] for row in predictions(module_servers["regression"], ROWS)]
    assert result.as_numpy("predict").tolist() == want


def test_errors_are_400_with_a_message(clients: dict[str, Any], module_servers: dict[str, PPSServer]) -> None:
    client = clients["regression"]
    with pytest.raises(InferenceServerException, match="unexpected inference output 'nope'.*predict") as caught:
        client.infer("diabetes", column_inputs(ROWS), outputs=[triton.InferRequestedOutput("nope")])
    assert caught.value.status() == "400"
    with pytest.raises(InferenceServerException, match="missing input.*s6") as caught:
        client.infer("diabetes", column_inputs(ROWS)[:-1])
    assert caught.value.status() == "400"
    http = module_servers["regression"].client
    bad = http.post("/v2/models/diabetes/infer", content=json.dumps({"inputs": [
        {"name": "x", "shape": [1, 10], "datatype": "FP64", "parameters": {"binary_data_size": 80}}]}).encode() +
        b"\0" * 40, headers={"Inference-Header-Content-Length": str(len(json.dumps({"inputs": [
            {"name": "x", "shape": [1, 10], "datatype": "FP64", "parameters": {"binary_data_size": 80}}]})))})
    assert bad.status_code == 400 and "runs past the end" in bad.json()["error"]


def test_health_bodies_are_empty(module_servers: dict[str, PPSServer]) -> None:
    http = module_servers["regression"].client
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/diabetes/ready",
                 "/v2/models/diabetes/versions/model-regression/ready"):
        response = http.get(path)
        assert (response.status_code, response.content) == (200, b""), path
    assert http.get("/v2/models/diabetes/versions/nope/ready").status_code == 404
