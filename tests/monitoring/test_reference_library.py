"""The real datarobot-mlops library publishing every report_* call, through RabbitMQ and a filesystem spool, into a
running service and monitoring agent: `bosun-local stats --json` shows exactly what was published."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bosun_local.service.drift import psi
from bosun_local.spool.filesystem.config import FsChannelConfig
from bosun_local.spool.rabbitmq.config import RabbitChannelConfig
from tests.mlops.reference import reference
from tests.monitoring.test_drift_and_status import register_package
from tests.support.monitoring import Service, agent_running, fast_config, unique, wait_until
from tests.support.rabbitmq import RabbitMQBroker

FEATURE_TYPES = [{"name": "x1", "feature_type": "numeric"}, {"name": "x2", "feature_type": "numeric"},
                 {"name": "color", "feature_type": "category"}]


def frame(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    """Return rows on a grid of dyadic values (sums exact in any order, few enough distinct values that the
    client-side centroid histograms keep every value as its own bucket)."""
    return pd.DataFrame({"x1": rng.integers(-12, 13, rows) / 4.0, "x2": rng.integers(0, 21, rows) / 2.0,
                         "color": rng.choice(["red", "green", "blue"], rows, p=[0.5, 0.3, 0.2])})


def target(part: pd.DataFrame) -> list[float]:
    """Return the model's prediction for rows (2 x1 + x2), exact in binary."""
    return (2 * part["x1"] + part["x2"]).tolist()


@dataclass
class Published:
    """What the test published, to compare with the stats."""

    predictions: int = 0
    user_errors: int = 0
    system_errors: int = 0
    rows: list[pd.DataFrame] = field(default_factory=list)  # rows counted for drift, mean and rows
    metrics: dict[tuple[str, str | None], list[tuple[datetime, float]]] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    actuals: list[tuple[float, float]] = field(default_factory=list)  # (prediction, actual) per joined id
    records: int = 0


def publish(mlops_cls: type, event_mod: Any, configure: Any, dep: str, model: str, seed: int) -> Published:
    """Call every public report_* method of the library (and the ping); return what should be counted."""
    rng = np.random.default_rng(seed)
    out = Published()
    m = configure(mlops_cls().set_deployment_id(dep).set_model_id(model))
    m.set_feature_types(FEATURE_TYPES).set_histogram_bin_count(100).init()
    for i in range(20):
        user, system = i % 7 == 0, i % 9 == 4
        m.report_deployment_stats(i + 1, 3.0 + 1.5 * i, user_error=user, system_error=system)
        out.predictions += i + 1
        out.user_errors += user
        out.system_errors += system
    out.records += 20
    for batch in range(3):
        part = frame(rng, 100)
        m.report_predictions_data(features_df=part, predictions=target(part),
                                  association_ids=[f"{dep}-{batch}-{i}" for i in range(100)])
        out.rows.append(part)
    out.records += 3
    part = frame(rng, 10)
    preds = target(part)
    preds[4] = float("nan")  # dropped by the library, which reports an externalNaNPredictions event instead
    m.report_predictions_data(features_df=part, predictions=preds)
    out.rows.append(part.drop(index=4))
    out.events["externalNaNPredictions"] = 1
    out.records += 2
    for batch in range(2):
        part = frame(rng, 500)
        part["assoc"] = [f"{dep}-agg-{batch}-{i}" for i in range(500)]
        predictions = target(part)
        m.report_aggregated_predictions_data(features_df=part, predictions=predictions, sampling_pct=10.0,
                                             association_id_column_name="assoc")
        out.rows.append(part.drop(columns="assoc"))
        out.records += 2  # the aggregates, and the raw 10 % sample (not counted again)
    part = frame(rng, 5)
    m.report_raw_time_series_predictions_data(
        features_df=part, predictions=target(part), forecast_distance=[1, 2, 3, 4, 5], row_index=list(range(5)),
        partition=[datetime(2026, 1, 1) + timedelta(days=d) for d in range(5)], series_id=["s"] * 5)
    out.rows.append(part)
    out.records += 1
    m.report_actuals([{"associationId": f"{dep}-0-{i}", "actualValue": float(i % 7)} for i in range(50)])
    out.actuals = [(target(out.rows[0])[i], float(i % 7)) for i in range(50)]
    out.records += 1
    now = datetime.now(UTC).replace(microsecond=0)
    for value in (2.5, 4.0, 1.25):
        m.report_deployment_metric("requests-cost", value)
        out.metrics.setdefault(("requests-cost", None), []).append((datetime.now(UTC), value))
    stamps = [now - timedelta(seconds=30), now - timedelta(seconds=20), now - timedelta(seconds=10)]
    m.report_model_metric("queue-length", [7.0, 3.0, 5.5], timestamp=stamps)
    out.metrics[("queue-length", model)] = list(zip(stamps, [7.0, 3.0, 5.5], strict=True))
    out.records += 4
    m.report_event(event_mod.Event(event_mod.EventType.DEP_MODEL_REPLACED, "model replaced by the app"))
    m.report_event(event_mod.Event(event_mod.EventType.PRED_REQUEST_FAILED, "a request failed", data={"code": 500}))
    out.events["model_deployments.model_replacement"] = 1
    out.events["prediction_request.failed"] = 1
    out.records += 2
    m.send_ping_to_agent("hello from the test")
    m.shutdown()
    return out


def cli_stats(service: Service, dep: str) -> dict[str, Any]:
    """Run `bosun-local stats DEP --json` against the service."""
    env = {**os.environ, "BOSUN_HOME": str(service.home), "BOSUN_SERVICE_URL": service.url}
    done = subprocess.run([sys.executable, "-m", "bosun_local", "stats", dep, "--window", "1d", "--json"], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def expected_psi(baseline: dict[str, Any], rows: pd.DataFrame) -> dict[str, float | None]:
    """Return PSI per feature and of the prediction, binning the raw published rows against the baseline."""
    out: dict[str, float | None] = {}
    columns = {**{name: rows[name] for name in baseline["features"]}, "__prediction": pd.Series(target(rows))}
    specs = {**baseline["features"], "__prediction": baseline["prediction"]}
    for name, spec in specs.items():
        values = columns[name]
        if spec["type"] == "categorical":
            cats, text = [str(c) for c in spec["categories"]], values.astype(str)
            counts = [int((text == c).sum()) for c in cats] + [int((~text.isin(cats)).sum())]
        else:
            positions = np.searchsorted(np.asarray(spec["edges"], dtype=float), values.to_numpy(dtype=float),
                                        side="right")
            counts = np.bincount(positions, minlength=len(spec["edges"]) + 1).tolist()
        out[name] = psi(spec["proportions"], counts)
    return out


def assert_stats_match(service: Service, dep: dict[str, Any], published: Published) -> None:
    """Compare `bosun-local stats --json` with what was published, figure by figure."""
    figures = cli_stats(service, dep["name"])
    rows = pd.concat(published.rows, ignore_index=True)
    assert (figures["predictions"], figures["userErrors"], figures["systemErrors"]) == (
        published.predictions, published.user_errors, published.system_errors)
    assert figures["predictionRows"] == len(rows) == 300 + 9 + 1000 + 5
    assert figures["predictionMean"] == sum(target(rows)) / len(rows)
    want = expected_psi(service.client.baseline(dep["id"]), rows)
    assert figures["drift"]["features"] == {k: v for k, v in want.items() if k != "__prediction"}
    assert figures["drift"]["prediction"] == want["__prediction"]
    assert figures["reportedEvents"] == dict(sorted(published.events.items()))
    metrics = {(m["metricId"], m["modelId"]): m for m in figures["customMetrics"]}
    assert set(metrics) == set(published.metrics)
    for key, points in published.metrics.items():
        values = [v for _, v in points]
        got = metrics[key]
        assert (got["count"], got["sum"], got["min"], got["max"], got["last"]) == (
            len(values), sum(values), min(values), max(values), values[-1])
        assert got["value"] == sum(values) / len(values) and got["status"] == "unknown"
    residual = np.array([p - a for p, a in published.actuals])
    assert figures["actuals"] == {"matched": 50, "waiting": 0}
    assert figures["accuracy"]["matched"] == 50
    assert figures["accuracy"]["metrics"]["rmse"] == float(np.sqrt(np.mean(residual ** 2)))
    assert figures["accuracy"]["metrics"]["mae"] == float(np.mean(np.abs(residual)))
    types = {e["type"] for e in service.client.list_events(deployment=dep["id"], limit=100)}
    assert set(published.events) <= types


def deployment(service: Service, tmp_path: Path) -> dict[str, Any]:
    """Register the drift-test package and deploy it as an external deployment."""
    package = register_package(service, tmp_path / "package")
    return service.client.create_deployment(package["id"], unique("dr-lib"), external=True)["deployment"]


def run(service: Service, dep: dict[str, Any], channel: Any, configure: Any, seed: int) -> None:
    ref_mlops, ref_event = reference()
    published = publish(ref_mlops.MLOps, ref_event, configure, dep["id"], dep["modelId"], seed)
    with agent_running(fast_config(service, (channel,))) as agent:
        wait_until(lambda: agent.counters.stored + agent.counters.pings == published.records + 1,
                   f"all {published.records} records and the ping")
        assert agent.counters.rejected == 0 and agent.counters.pings == 1
    assert_stats_match(service, dep, published)


def test_every_report_call_through_rabbitmq(service: Service, broker: RabbitMQBroker, queue_name: str,
                                            tmp_path: Path) -> None:
    dep = deployment(service, tmp_path)
    run(service, dep, RabbitChannelConfig(broker.url, queue_name),
        lambda m: m.set_rabbitmq_spooler(broker.url, queue_name), seed=11)


def test_every_report_call_through_a_filesystem_spool(service: Service, tmp_path: Path) -> None:
    dep = deployment(service, tmp_path)
    spool = tmp_path / "spool"
    spool.mkdir()
    run(service, dep, FsChannelConfig(spool), lambda m: m.set_filesystem_spooler(str(spool)), seed=12)


@pytest.mark.parametrize("threshold", ["atRisk", "failing"])
def test_custom_metric_thresholds_grade_the_value(service: Service, tmp_path: Path, threshold: str) -> None:
    package = register_package(service, tmp_path / "package")
    kv = {"customMetric.cost.atRisk": "2", "customMetric.cost.failing": "4",
          "customMetric.cost.aggregation": "gauge"}
    dep = service.client.create_deployment(package["id"], unique("cm"), external=True, key_value_config=kv)[
        "deployment"]
    spool = tmp_path / "spool"
    spool.mkdir()
    ref_mlops, _ = reference()
    m = ref_mlops.MLOps().set_deployment_id(dep["id"]).set_filesystem_spooler(str(spool)).init()
    for value in (1.0, 5.0, 3.0 if threshold == "atRisk" else 4.5):
        m.report_deployment_metric("cost", value)
    m.shutdown()
    with agent_running(fast_config(service, (FsChannelConfig(spool),))) as agent:
        wait_until(lambda: agent.counters.stored == 3, "the 3 metric records")
    (metric,) = cli_stats(service, dep["name"])["customMetrics"]
    assert metric["aggregation"] == "gauge" and metric["value"] == metric["last"]
    assert metric["status"] == ("warning" if threshold == "atRisk" else "failing")
    env = {**os.environ, "BOSUN_HOME": str(service.home), "BOSUN_SERVICE_URL": service.url, "COLUMNS": "200"}
    table = subprocess.run([sys.executable, "-m", "bosun_local", "stats", dep["name"], "--window", "1d"], env=env,
                           capture_output=True, text=True, timeout=120, check=True).stdout
    assert "metric cost gauge" in table and "(3 values)" in table


def test_a_redelivered_event_record_becomes_one_deployment_event(service: Service) -> None:
    dep = unique("dep-event")
    minute = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z")
    entry = {"recordId": unique("rec"), "deploymentId": dep, "modelId": "unknown", "minute": minute, "kind": "event",
             "event": {"type": "model_deployments.data_drift_red", "status": "failing", "message": "drift is red",
                       "data": {"feature": "x1"}}}
    assert service.client.ingest([entry]) == {"stored": 1, "duplicates": 0}
    assert service.client.ingest([entry]) == {"stored": 0, "duplicates": 1}
    (event,) = service.client.list_events(deployment=dep)
    assert (event["type"], event["status"], event["message"]) == ("model_deployments.data_drift_red", "failing",
                                                                  "drift is red")
    assert event["data"]["feature"] == "x1" and event["data"]["recordId"] == entry["recordId"]
    assert service.client.stats(dep, 3600)["reportedEvents"] == {"model_deployments.data_drift_red": 1}
