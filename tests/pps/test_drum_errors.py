"""DRUM models that break the contract: each gets a clear answer naming the hook, and the server keeps serving.

One multi-model server holds every case as its own deployment (DataRobot-layout dirs: model-metadata.yaml), which
also covers V2 names, versions and the repository index in multi-model mode.
"""
from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pps.conftest import PPSServer
from tests.pps.drum_models import MULTICLASS_INPUT, metadata, multiclass, unstructured
from tests.pps.test_multi_model import deploy, wait_for

CSV = {"Content-Type": "text/csv"}
SCORE = "import pandas as pd\n\ndef load_model(code_dir):\n    return 'm'\n\n"
# deployment id: (custom.py, targetType, status of POST /predictions of "x\n1\n2\n", words the answer must hold)
RUNTIME = {
    "not-a-frame": (SCORE + "def score(data, model, **kwargs):\n    return [1.0] * len(data)\n", "regression",
                    500, ["score() must return a DataFrame, not list"]),
    "raises": (SCORE + "def score(data, model, **kwargs):\n    raise RuntimeError('boom')\n", "regression",
               500, ["score() failed: RuntimeError: boom"]),
    "bad-sum": (SCORE + "def score(data, model, **kwargs):\n    return pd.DataFrame({'no': [0.5] * len(data), "
                        "'yes': [0.6] * len(data)})\n", "binary", 500, ["do not add up to 1"]),
    "bad-labels": (SCORE + "def score(data, model, **kwargs):\n    return pd.DataFrame({'n': [0.5] * len(data), "
                           "'y': [0.5] * len(data)})\n", "binary", 500, ["columns ['n', 'y']", "['no', 'yes']"]),
    "rows-lost": (SCORE + "def transform(data, model):\n    return data.head(1)\n\n"
                          "def score(data, model, **kwargs):\n    return pd.DataFrame({'Predictions': data['x']})\n",
                  "regression", 500, ["transform() returned 1 rows for 2"]),
    "one-column": (SCORE + "def score(data, model, **kwargs):\n    return pd.DataFrame({'yes': data['x'] / 10})\n",
                   "binary", 500, ["columns ['yes']"]),
}
LOAD = {
    "load-none": ("def load_model(code_dir):\n    return None\n", "regression", ["load_model() returned None"]),
    "init-fails": ("def init(code_dir, **kwargs):\n    raise OSError('no licence file')\n", "regression",
                   ["init() failed: OSError: no licence file"]),
    "no-hook": ("def load_model(code_dir):\n    return 'dummy'\n", "unstructured",
                ["has no score_unstructured() function"]),
}


def package(directory: Path, source: str, target_type: str) -> Path:
    directory.mkdir(parents=True)
    (directory / "custom.py").write_text(textwrap.dedent(source))
    labels = {"positiveClassLabel": "yes", "negativeClassLabel": "no"} if target_type == "binary" else {}
    metadata(directory, target_type, **labels)
    return directory


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PPSServer]:
    root = tmp_path_factory.mktemp("drum-errors")
    base = root / "base"
    base.mkdir()
    for name, (source, target_type, *_) in {**RUNTIME, **LOAD}.items():
        deploy(base, name, f"m-{name}", package(root / name, source, target_type))
    deploy(base, "letters", "m-letters", multiclass(root / "letters"))
    deploy(base, "words", "m-words", unstructured(root / "words"))
    srv = PPSServer({"PPS_MULTI_BASE_DIR": str(base), "PPS_WATCH_INTERVAL_SEC": "0.2"})
    try:
        srv.wait_ready("/health")
        wait_for(lambda: len(srv.client.get("/info").json()["deployments"]) == len(RUNTIME) + len(LOAD) + 2,
                 "every deployment scanned")
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("name", list(RUNTIME))
def test_broken_hook_answers_naming_it(server: PPSServer, name: str) -> None:
    _, _, status, words = RUNTIME[name]
    response = server.client.post(f"/deployments/{name}/predictions", content=b"x\n1\n2\n", headers=CSV)
    assert response.status_code == status, response.text
    for word in words:
        assert word in response.json()["message"], response.text
    assert server.client.post("/deployments/letters/predictions", content=MULTICLASS_INPUT,
                              headers=CSV).status_code == 200


@pytest.mark.parametrize("name", list(LOAD))
def test_package_that_does_not_load_is_a_503_with_the_reason(server: PPSServer, name: str) -> None:
    _, _, words = LOAD[name]
    response = server.client.post(f"/deployments/{name}/predictions", content=b"x\n1\n", headers=CSV)
    assert response.status_code == 503
    for word in words:
        assert word in response.json()["message"], response.text


def test_multi_model_v2_names_versions_and_index(server: PPSServer) -> None:
    client = server.client
    body = {"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [-50, 80]}]}
    answer = client.post("/v2/models/letters/versions/m-letters/infer", json=body)
    assert answer.status_code == 200 and answer.json()["outputs"][0]["data"] == ["a", "c"]
    assert client.post("/v2/models/letters/versions/m-other/infer", json=body).status_code == 404
    index = {e["name"]: e for e in client.post("/v2/repository/index").json()}
    assert index["letters"] == {"name": "letters", "version": "m-letters", "state": "READY", "reason": ""}
    assert index["load-none"]["state"] == "UNAVAILABLE" and "returned None" in index["load-none"]["reason"]
    ready = {e["name"] for e in client.post("/v2/repository/index", json={"ready": True}).json()}
    assert "letters" in ready and "load-none" not in ready
    assert client.get("/v2/models/load-none/ready").status_code == 400
    unstructured_v2 = client.post("/v2/models/words/infer", json=body)
    assert unstructured_v2.status_code == 400 and "unstructured" in unstructured_v2.json()["error"]
    words = client.post("/deployments/words/predictionsUnstructured", content=b"a b c",
                        headers={"Content-Type": "text/plain"})
    assert words.content == b"counted: 3 words (str, text/plain, utf8)"
