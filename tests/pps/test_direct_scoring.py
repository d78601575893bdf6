"""Direct scoring: the PPS's validation-free path gives bit-for-bit the predictions of the estimator's full path."""
from __future__ import annotations

import asyncio
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from bosun_local.pps.app import PPSApp
from bosun_local.pps.direct_scoring import ENV_SWITCH
from bosun_local.pps.inputs import Frame, InputError
from bosun_local.pps.model import LoadedModel, load_package
from bosun_local.pps.registry import Deployment, SingleRegistry
from tests.pps.packages import DIABETES, custom_package, diabetes_frame, regression_package, write_spec


def _classifier_package(directory: Path, dataset: Any, target_type: str) -> Path:
    x, y = dataset.data, dataset.target
    names = [f"f{i}" for i in range(x.shape[1])]
    classes = [str(c) for c in dataset.target_names]
    pipe = Pipeline([("minmax", MinMaxScaler()), ("scale", StandardScaler()),
                     ("clf", LogisticRegression(max_iter=5000))]).fit(x, np.array(classes)[y])
    write_spec(directory, name=directory.name, targetName="label", targetType=target_type,
               classNames=[str(c) for c in pipe.classes_], features=[{"name": n, "type": "numeric"} for n in names])
    (directory / "model.pkl").write_bytes(pickle.dumps(pipe))
    return directory


def _forest_package(directory: Path) -> Path:
    x, y = diabetes_frame()
    write_spec(directory, name="forest", targetName="y", targetType="regression",
               features=[{"name": n, "type": "numeric"} for n in DIABETES])
    (directory / "model.pkl").write_bytes(pickle.dumps(RandomForestRegressor(n_estimators=5, random_state=0)
                                                       .fit(x.to_numpy(), y)))
    return directory


@pytest.fixture(scope="module")
def direct_packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("direct")
    return {
        "regression": regression_package(root / "regression"),
        "binary": _classifier_package(root / "binary", load_breast_cancer(), "binary"),
        "multiclass": _classifier_package(root / "multiclass", load_iris(), "multiclass"),
        "forest": _forest_package(root / "forest"),
        "custom": custom_package(root / "custom"),
    }


def _inputs(width: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.normal(0, 30, size=(rows, width)) for rows in (1, 2, 13, 257, 1000)]


def _full_path(directory: Path, monkeypatch: pytest.MonkeyPatch) -> LoadedModel:
    with monkeypatch.context() as patch:
        patch.setenv(ENV_SWITCH, "0")
        return load_package(directory)


@pytest.mark.parametrize("name", ["regression", "binary", "multiclass"])
def test_direct_scores_are_bit_identical(name: str, direct_packages: dict[str, Path],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    direct, full = load_package(direct_packages[name]), _full_path(direct_packages[name], monkeypatch)
    assert direct.direct is not None and full.direct is None
    for values in _inputs(len(direct.schema.names)):
        frame = Frame(direct.schema.names, values, True)
        fast, slow = direct.score(frame), full.score(frame)
        assert fast.predictions == slow.predictions
        if direct.is_classifier:
            assert fast.probabilities is not None and slow.probabilities is not None
            assert fast.probabilities.tobytes() == slow.probabilities.tobytes()
            assert fast.probabilities.tobytes() == np.asarray(direct.model.predict_proba(values)).tobytes()
        else:
            assert np.asarray(fast.predictions).tobytes() == direct.model.predict(values).tobytes()


def test_models_without_a_direct_path_keep_the_full_one(direct_packages: dict[str, Path]) -> None:
    forest, custom = load_package(direct_packages["forest"]), load_package(direct_packages["custom"])
    assert forest.direct is None and getattr(custom, "direct", None) is None
    values = _inputs(len(DIABETES))[2]
    assert forest.score(Frame(forest.schema.names, values, True)).predictions == \
        forest.model.predict(values).tolist()


def test_missing_values_take_the_full_path(direct_packages: dict[str, Path]) -> None:
    model = load_package(direct_packages["regression"])
    values = np.full((1, len(DIABETES)), 1.0)
    values[0, 3] = np.nan
    with pytest.raises(InputError) as raised:  # LinearRegression refuses NaN: the estimator's own error, a 422
        model.score(Frame(model.schema.names, values, True))
    assert raised.value.status == 422 and "NaN" in raised.value.message


def _post(app: PPSApp, path: str, content_type: bytes, body: bytes) -> tuple[int, Any]:
    async def call() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await PPSApp.__call__(app, scope, receive, send)
        return sent

    sent = asyncio.run(call())
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_every_route_answers_what_the_estimator_predicts(direct_packages: dict[str, Path]) -> None:
    model = load_package(direct_packages["multiclass"])
    assert model.direct is not None
    app = PPSApp(SingleRegistry(Deployment(None, None, model, direct_packages["multiclass"])))
    values = _inputs(len(model.schema.names))[2]
    expected = model.model.predict_proba(values)
    names = model.schema.names
    rows = [dict(zip(names, row, strict=True)) for row in values.tolist()]
    status, doc = _post(app, "/predictions", b"application/json", json.dumps(rows).encode())
    assert status == 200
    # JSON floats round-trip exactly (shortest repr), so equality here is bit equality.
    got = [[v["value"] for v in row["predictionValues"]] for row in doc["data"]]
    assert got == [[float(p) for p in row] for row in expected[:, [model.class_names.index(c) for c in
                                                                    [v["label"] for v in
                                                                     doc["data"][0]["predictionValues"]]]]]
    csv_body = (",".join(names) + "\n" + "\n".join(",".join(repr(v) for v in row) for row in values.tolist()))
    status, csv_doc = _post(app, "/predictions", b"text/csv", csv_body.encode())
    assert status == 200 and csv_doc == doc
    v2 = {"inputs": [{"name": "input", "shape": list(values.shape), "datatype": "FP64",
                      "data": values.reshape(-1).tolist()}]}
    status, v2_doc = _post(app, "/v2/models/multiclass/infer", b"application/json", json.dumps(v2).encode())
    assert status == 200
    probabilities = next(o for o in v2_doc["outputs"] if o["shape"] == list(expected.shape))
    assert probabilities["data"] == expected.reshape(-1).tolist()
