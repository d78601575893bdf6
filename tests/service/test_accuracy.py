"""Accuracy from delayed actuals: joined in the service in any order, metrics equal to scikit-learn's, statuses."""
from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from bosun_local.client import ServiceError

from .helpers import Service, unique, wait_for, write_classifier, write_package


def _minute() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def _predictions(dep: dict, associations: dict) -> dict:
    return {"recordId": unique("p"), "deploymentId": dep["id"], "modelId": dep["modelId"], "minute": _minute(),
            "kind": "predictions", "rows": len(associations["ids"]), "associations": associations}


def _actuals(dep: dict, rows: list[dict]) -> dict:
    return {"recordId": unique("a"), "deploymentId": dep["id"], "modelId": dep["modelId"], "minute": _minute(),
            "kind": "actuals", "actuals": rows}


def write_multiclass(directory: Path) -> Path:
    """Write a three-class package (the service never unpickles it; the spec is what counts)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.pkl").write_bytes(pickle.dumps({"not": "loaded"}))
    (directory / "model.yaml").write_text("targetName: kind\ntargetType: multiclass\nclassNames: [a, b, c]\n"
                                          "features:\n  - {name: x, type: numeric}\n")
    return directory


@pytest.fixture(scope="module")
def regression(service: Service, tmp_path_factory: pytest.TempPathFactory, diabetes_frame: pd.DataFrame) -> dict:
    package = service.client.register_package(write_package(tmp_path_factory.mktemp("r"), diabetes_frame))
    return package


def test_regression_actuals_before_and_after_predictions_match_once(service: Service, regression: dict) -> None:
    c = service.client
    dep = c.create_deployment(regression["id"], unique("acc-reg"), external=True)["deployment"]
    rng = np.random.default_rng(3)
    ids = [f"r{i}" for i in range(300)]
    predicted = rng.normal(150, 40, 300).round(3)
    actual = (predicted + rng.normal(0, 20, 300)).round(3)
    early = [{"associationId": i, "actualValue": float(a)} for i, a in zip(ids[:100], actual[:100], strict=True)]
    first = c.upload_actuals(dep["name"], early)  # by name; no prediction yet: stored, waiting
    assert first == {"deploymentId": dep["id"], "received": 100, "stored": 100, "duplicates": 0, "matched": 0}
    assert c.stats(dep["id"])["accuracy"]["waitingActuals"] == 100
    c.ingest([_predictions(dep, {"ids": ids, "predictions": predicted.tolist()})])
    late = [{"associationId": i, "actualValue": float(a), "wasActedOn": True}
            for i, a in zip(ids[100:], actual[100:], strict=True)]
    assert c.ingest([_actuals(dep, late[:150])])["stored"] == 1
    # 50 new, 60 already known, and one repeated within the upload (one statement must not upsert it twice)
    again = c.upload_actuals(dep["id"], late[100:] + early[:10] + late[100:101])
    assert (again["stored"], again["duplicates"], again["matched"]) == (50, 61, 110)
    accuracy = c.stats(dep["id"])["accuracy"]
    assert accuracy["targetType"] == "regression" and accuracy["matched"] == 300 and accuracy["waitingActuals"] == 0
    expected = {"rmse": skm.root_mean_squared_error(actual, predicted),
                "mae": skm.mean_absolute_error(actual, predicted), "r2": skm.r2_score(actual, predicted)}
    assert accuracy["metrics"] == pytest.approx(expected, rel=1e-9)
    assert accuracy["metric"] == "r2" and accuracy["status"] in ("passing", "warning", "failing")


def test_binary_metrics_equal_sklearn(service: Service, tmp_path_factory: pytest.TempPathFactory) -> None:
    c = service.client
    package = c.register_package(write_classifier(tmp_path_factory.mktemp("b")))
    dep = c.create_deployment(package["id"], unique("acc-bin"), external=True)["deployment"]
    rng = np.random.default_rng(5)
    n = 400
    truth = rng.random(n) < 0.4
    score = np.clip(np.where(truth, 0.65, 0.35) + rng.normal(0, 0.2, n), 0.01, 0.99).round(2)  # ties on purpose
    ids = [f"b{i}" for i in range(n)]
    labels = np.where(truth, "yes", "no")
    order = list(range(n))
    random.Random(1).shuffle(order)
    half = order[: n // 2]
    c.ingest([_actuals(dep, [{"associationId": ids[i], "actualValue": str(labels[i])} for i in half])])
    c.ingest([_predictions(dep, {"ids": ids, "classNames": ["no", "yes"],
                                 "probabilities": [[1 - s, s] for s in score.tolist()]})])
    c.ingest([_actuals(dep, [{"associationId": ids[i], "actualValue": str(labels[i])} for i in order[n // 2:]])])
    accuracy = c.stats(dep["id"])["accuracy"]
    predicted = np.where(score > 0.5, "yes", "no")
    expected = {"accuracy": skm.accuracy_score(labels, predicted), "auc": skm.roc_auc_score(truth, score),
                "logLoss": skm.log_loss(truth, score), "f1": skm.f1_score(labels, predicted, pos_label="yes")}
    assert accuracy["targetType"] == "binary" and accuracy["matched"] == n
    assert accuracy["metrics"] == pytest.approx(expected, rel=1e-9)


def test_multiclass_metrics_equal_sklearn(service: Service, tmp_path_factory: pytest.TempPathFactory) -> None:
    c = service.client
    package = c.register_package(write_multiclass(tmp_path_factory.mktemp("m")))
    dep = c.create_deployment(package["id"], unique("acc-multi"), external=True)["deployment"]
    rng = np.random.default_rng(9)
    n = 120
    probs = rng.dirichlet([1, 1, 1], n)
    actual = rng.choice(["a", "b", "c"], n)
    ids = [f"m{i}" for i in range(n)]
    c.ingest([_predictions(dep, {"ids": ids, "classNames": ["a", "b", "c"], "probabilities": probs.tolist()})])
    c.upload_actuals(dep["id"], [{"associationId": i, "actualValue": a} for i, a in zip(ids, actual, strict=True)])
    accuracy = c.stats(dep["id"])["accuracy"]
    predicted = np.array(["a", "b", "c"])[probs.argmax(axis=1)]
    expected = {"accuracy": skm.accuracy_score(actual, predicted),
                "logLoss": skm.log_loss(actual, probs, labels=["a", "b", "c"])}
    assert accuracy["targetType"] == "multiclass" and accuracy["metrics"] == pytest.approx(expected, rel=1e-9)


def test_accuracy_status_follows_thresholds_and_posts_change_events(service: Service, regression: dict) -> None:
    c = service.client
    dep = c.create_deployment(regression["id"], unique("acc-status"), external=True, key_value_config={
        "accuracyMetric": "mae", "accuracyWarn": 5, "accuracyFail": 10})["deployment"]
    ids = [f"s{i}" for i in range(20)]
    c.ingest([_predictions(dep, {"ids": ids, "predictions": [100.0] * 20})])
    c.upload_actuals(dep["id"], [{"associationId": i, "actualValue": 107.0} for i in ids])  # MAE 7: warning
    accuracy = c.stats(dep["id"])["accuracy"]
    assert (accuracy["metric"], accuracy["metrics"]["mae"], accuracy["status"]) == ("mae", 7.0, "warning")
    wait_for(lambda: c.list_events(deployment=dep["id"], types=["accuracy_status_changed"]), "a status event")
    event = c.list_events(deployment=dep["id"], types=["accuracy_status_changed"])[0]
    assert event["status"] == "warning" and event["data"]["previous"] == "unknown"
    assert "mae 7" in event["message"]


def test_bad_association_and_actual_shapes_are_refused(service: Service, regression: dict) -> None:
    c = service.client
    dep = c.create_deployment(regression["id"], unique("acc-bad"), external=True)["deployment"]
    cases = [
        (_predictions(dep, {"ids": ["a", "b"], "predictions": [1.0]}), "associations.predictions has 1 values for 2"),
        (_predictions(dep, {"ids": ["a"], "classNames": ["x"], "probabilities": [[1.0]]}), "one value per class"),
        (_predictions(dep, {"ids": ["a"], "predictions": [1.0], "timestamp": "later"}), "not an ISO 8601"),
        (_actuals(dep, [{"associationId": "a", "actualValue": 1, "timestamp": "soon"}]), "actuals[0].timestamp"),
    ]
    for record, text in cases:
        with pytest.raises(ServiceError) as err:
            c.ingest([record])
        assert err.value.status_code == 422 and text in err.value.message
    with pytest.raises(ServiceError) as err:
        c.upload_actuals(unique("nobody"), [{"associationId": "a", "actualValue": 1}])
    assert err.value.status_code == 404
