"""DRUM custom models: every hook, structured and unstructured, served by the PPS and by `drum score` alike."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import need
from tests.pps.conftest import PPSServer
from tests.pps.drum_models import (
    MULTICLASS_INPUT,
    all_hooks_input,
    all_hooks_regression,
    multiclass,
    sklearn_binary,
    sklearn_binary_input,
    unstructured,
)

CSV = {"Content-Type": "text/csv"}
# kind: (builder, input CSV, the `drum score` arguments DataRobot's UI would pass)
STRUCTURED: dict[str, tuple[Callable[[Path], Path], bytes, list[str]]] = {
    "regression": (all_hooks_regression, all_hooks_input(), ["--target-type", "regression"]),
    "binary": (sklearn_binary, sklearn_binary_input(), ["--target-type", "binary", "--positive-class-label", "yes",
                                                        "--negative-class-label", "no"]),
    "multiclass": (multiclass, MULTICLASS_INPUT, ["--target-type", "multiclass", "--class-labels", "a", "b", "c"]),
}


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("drum")
    dirs = {kind: build(base / kind) for kind, (build, _, _) in STRUCTURED.items()}
    dirs["unstructured"] = unstructured(base / "unstructured")
    return dirs


@pytest.fixture(scope="module")
def servers(model_dirs: dict[str, Path]) -> Iterator[dict[str, PPSServer]]:
    made = {kind: PPSServer({"PPS_MODEL_DIR": str(path), "MLOPS_DEPLOYMENT_ID": f"dep-{kind}",
                             "MLOPS_MODEL_ID": f"model-{kind}"}) for kind, path in model_dirs.items()}
    try:
        for server in made.values():
            server.wait_ready()
        yield made
    finally:
        for server in made.values():
            server.stop()


@pytest.fixture(scope="module")
def drum() -> str:
    """Return the `drum` command of datarobot-drum (a test extra): a failure under CI=true when it is missing."""
    found = shutil.which("drum", path=str(Path(sys.executable).parent))
    need(found is not None, "datarobot-drum is not installed: `make venv` installs the test extras")
    return str(found)


def drum_score(drum: str, code_dir: Path, data: bytes, args: list[str], tmp: Path) -> bytes:
    """Run `drum score` on a copy of the model dir (DRUM writes caches into it) and return its output file."""
    work = shutil.copytree(code_dir, tmp / f"drum-{code_dir.name}")
    source, output = tmp / "input.bin", tmp / "output.bin"
    source.write_bytes(data)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "PPS_"))}
    proc = subprocess.run([drum, "score", "--code-dir", str(work), "--input", str(source), "--output", str(output),
                           "--logging-level", "warning", *args], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, f"drum score failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return output.read_bytes()


def ours(server: PPSServer, data: bytes) -> list[dict[str, Any]]:
    response = server.client.post("/predictions", content=data, headers=CSV)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


@pytest.mark.parametrize("kind", list(STRUCTURED))
def test_structured_predictions_equal_drum_score(kind: str, drum: str, model_dirs: dict[str, Path],
                                                 servers: dict[str, PPSServer], tmp_path: Path) -> None:
    _, data, args = STRUCTURED[kind]
    theirs = pd.read_csv(io.BytesIO(drum_score(drum, model_dirs[kind], data, args, tmp_path)))
    rows = ours(servers[kind], data)
    assert len(rows) == len(theirs) > 0
    if kind == "regression":
        assert [r["prediction"] for r in rows] == theirs["Predictions"].tolist()
    else:
        for label in ("no", "yes") if kind == "binary" else ("a", "b", "c"):
            mine = [next(v["value"] for v in r["predictionValues"] if v["label"] == label) for r in rows]
            assert mine == theirs[label].tolist(), label


def test_every_structured_hook_ran(servers: dict[str, PPSServer]) -> None:
    """init's offset, load_model's artifact, read_input_data's format, transform's drop/fill, post_process's clip."""
    from sklearn.linear_model import LinearRegression

    from tests.pps.packages import DIABETES, diabetes_frame

    x, y = diabetes_frame()
    frame = pd.read_csv(io.BytesIO(all_hooks_input()), sep=";", decimal=",").drop(columns=["row_id"]).fillna(0)
    want = (LinearRegression().fit(x, y).predict(frame[DIABETES]) + 0.25).clip(min=0.0)
    got = [r["prediction"] for r in ours(servers["regression"], all_hooks_input())]
    assert got == pytest.approx(want.tolist(), rel=1e-12)
    info = servers["regression"].client.get("/info").json()
    assert info["modelKind"] == "custom" and info["targetType"] == "regression" and info["features"] == []


def test_builtin_predictor_and_class_labels(servers: dict[str, PPSServer]) -> None:
    rows = ours(servers["binary"], sklearn_binary_input())
    assert {r["prediction"] for r in rows} <= {"no", "yes"}
    assert all([v["label"] for v in r["predictionValues"]] == ["no", "yes"] for r in rows)
    rows = ours(servers["multiclass"], MULTICLASS_INPUT)
    assert [r["prediction"] for r in rows] == ["a", "a", "c", "c"]
    # JSON rows take the same path as DRUM's CSV for a model without a feature list.
    assert servers["multiclass"].client.post("/predictions", json=[{"x": 80}]).json()["data"][0]["prediction"] == "c"


def test_v2_on_a_drum_model_equals_predictions(servers: dict[str, PPSServer]) -> None:
    client = servers["multiclass"].client
    body = {"inputs": [{"name": "x", "shape": [4], "datatype": "FP64", "data": [-50, 0, 12.5, 80]}]}
    outputs = {o["name"]: o for o in client.post("/v2/models/multiclass/infer", json=body).json()["outputs"]}
    rows = ours(servers["multiclass"], MULTICLASS_INPUT)
    assert outputs["predict"]["data"] == [r["prediction"] for r in rows]
    assert outputs["predict_proba"]["data"] == [v["value"] for r in rows for v in r["predictionValues"]]


UNSTRUCTURED_CASES = [
    ("text", b"hello big wide world", "text/plain; charset=utf8", "", b"counted: 4 words (str, text/plain, utf8)"),
    ("default type", b"one two", "", "", b"counted: 2 words (str, text/plain, utf8)"),
    ("bytes in", b"a b c", "application/octet-stream", "", b"counted: 3 words (bytes, application/octet-stream, None)"),
    ("bytes out", b"x y z w v", "text/plain", "ret_mode=binary", (5).to_bytes(4, "big")),
]


@pytest.mark.parametrize(("body", "content_type", "query", "want"), [c[1:] for c in UNSTRUCTURED_CASES],
                         ids=[c[0] for c in UNSTRUCTURED_CASES])
def test_unstructured_equals_drum_score(body: bytes, content_type: str, query: str, want: bytes, drum: str,
                                        model_dirs: dict[str, Path], servers: dict[str, PPSServer],
                                        tmp_path: Path) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = servers["unstructured"].client.post(f"/predictionsUnstructured?{query}", content=body,
                                                   headers=headers)
    assert response.status_code == 200, response.text
    assert response.content == want
    binary = query == "ret_mode=binary"
    assert response.headers["content-type"].startswith("application/octet-stream" if binary else "text/plain")
    args = ["--target-type", "unstructured"] + (["--content-type", content_type] if content_type else []) + \
        (["--query", query] if query else [])
    assert drum_score(drum, model_dirs["unstructured"], body, args, tmp_path) == want


def test_unstructured_and_structured_routes_refuse_each_other(servers: dict[str, PPSServer]) -> None:
    wrong = servers["unstructured"].client.post("/predictions", content=b"x\n1\n", headers=CSV)
    assert wrong.status_code == 422 and "/predictionsUnstructured" in wrong.json()["message"]
    wrong = servers["multiclass"].client.post("/deployments/dep-multiclass/predictionsUnstructured", content=b"hi")
    assert wrong.status_code == 422 and "structured model" in wrong.json()["message"]
    prefixed = servers["unstructured"].client.post("/deployments/dep-unstructured/predictUnstructured",
                                                   content=b"a b")
    assert prefixed.content.startswith(b"counted: 2 words")
