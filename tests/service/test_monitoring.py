"""Monitoring figures: ingest with recordId dedup in one transaction, and exact stats, health and drift."""
from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import httpx
import pandas as pd
import pytest

from bosun_local.client import ServiceError
from bosun_local.contracts.latency import LEGACY_BUCKETS_MS, LatencySketch

from .helpers import Service, unique, write_package

BINS = len(LEGACY_BUCKETS_MS) + 1


@pytest.fixture(scope="module")
def deployment(service: Service, tmp_path_factory: pytest.TempPathFactory, diabetes_frame: pd.DataFrame) -> dict:
    package = service.client.register_package(write_package(tmp_path_factory.mktemp("m"), diabetes_frame))
    return service.client.create_deployment(package["id"], unique("mon"))["deployment"]


def _minute() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def _latency(**counts: int) -> list[int]:
    vector = [0] * BINS
    for index, n in counts.items():
        vector[int(index[1:])] = n
    return vector


def _sketch(*values: float) -> dict:
    sketch = LatencySketch()
    sketch.add_many(values)
    return sketch.to_wire()


def _stats_record(dep: dict, record_id: str, **fields: object) -> dict:
    return {"recordId": record_id, "deploymentId": dep["id"], "modelId": dep["modelId"], "minute": _minute(),
            "kind": "stats", **fields}


def _psi(expected: list[float], counts: list[int]) -> float:
    total = sum(counts)
    return sum((c / total - e) * math.log((c / total) / e) for e, c in zip(expected, counts, strict=True))


def test_ingest_dedup_and_exact_service_stats(service: Service, deployment: dict) -> None:
    c = service.client
    record = _stats_record(deployment, unique("r"), predictions=90, userErrors=5, systemErrors=5,
                           executionTimeMs=1234.5, latencySketch=_sketch(*[15.0] * 50, *[75.0] * 50))
    assert c.ingest([record]) == {"stored": 1, "duplicates": 0}
    assert c.ingest([record, record]) == {"stored": 0, "duplicates": 2}  # redelivery counts once
    stats = c.stats(deployment["id"], window=3600)
    assert stats["deploymentId"] == deployment["id"] and stats["window"] == 3600
    assert (stats["predictions"], stats["userErrors"], stats["systemErrors"]) == (90, 5, 5)
    assert stats["errorRate"] == 0.1  # 10 errors of 100 requests
    # 50 requests at 15 ms and 50 at 75 ms: percentiles within 1 %, extremes and mean exact.
    assert stats["latencyP50Ms"] == pytest.approx(15.0, rel=0.01)
    assert stats["latencyP95Ms"] == pytest.approx(75.0, rel=0.01) and stats["latencyP99Ms"] == stats["latencyP95Ms"]
    assert (stats["latencyMinMs"], stats["latencyMaxMs"], stats["latencyMeanMs"]) == (15.0, 75.0, 45.0)
    assert stats["latencyFromLegacyBuckets"] is False
    assert stats["serviceHealth"] == "warning"  # error rate 10% >= 5%, p95 75 ms < 500 ms
    assert stats["series"] == [{"minute": record["minute"], "predictions": 90, "errors": 10,
                                "latencyP50Ms": stats["latencyP50Ms"], "latencyP95Ms": stats["latencyP95Ms"]}]


def test_records_of_agents_before_the_sketch_still_count(service: Service, deployment: dict) -> None:
    dep = service.client.create_deployment(deployment["packageId"], unique("legacy"))["deployment"]
    service.client.ingest([_stats_record(dep, unique("r"), predictions=100, latencyCounts=_latency(b4=50, b6=50))])
    service.client.ingest([_stats_record(dep, unique("r"), predictions=1, latencySketch=_sketch(30.0))])
    stats = service.client.stats(dep["id"])
    # bucket middles 15 and 75 ms stand for the old (10, 20] and (50, 100] buckets; the 30 ms one is the median
    assert stats["latencyP50Ms"] == pytest.approx(30.0, rel=0.01) and stats["latencyFromLegacyBuckets"] is True
    assert stats["latencyP95Ms"] == pytest.approx(75.0, rel=0.01)
    assert (stats["latencyMinMs"], stats["latencyMaxMs"]) == (10.0, 100.0)


def test_drift_psi_against_baseline(service: Service, deployment: dict) -> None:
    c = service.client
    baseline = c.baseline(deployment["id"])
    bmi = baseline["features"]["bmi"]["proportions"]
    age = baseline["features"]["age"]["proportions"]
    same = [round(p * 1000) for p in bmi]
    skewed = [1] * (len(age) - 1) + [991]
    pred = baseline["prediction"]["proportions"]
    pred_counts = [10] * len(pred)
    c.ingest([{"recordId": unique("p"), "deploymentId": deployment["id"], "modelId": deployment["modelId"],
               "minute": _minute(), "kind": "predictions", "rows": 1000, "predictionSum": 152000.0,
               "predictionCounts": pred_counts, "featureCounts": {"bmi": same, "age": skewed}},
              # Another model's figures count in totals but not in this model's drift.
              {"recordId": unique("p"), "deploymentId": deployment["id"], "modelId": "f" * 24,
               "minute": _minute(), "kind": "predictions", "rows": 5, "featureCounts": {"bmi": [5] + [0] * 9}}])
    drift = c.stats(deployment["id"])["drift"]
    assert drift["features"]["bmi"] == pytest.approx(_psi(bmi, same), abs=1e-6)
    assert drift["features"]["bmi"] < 0.01
    assert drift["features"]["age"] == pytest.approx(_psi(age, skewed), abs=1e-6)
    assert drift["prediction"] == pytest.approx(_psi(pred, pred_counts), abs=1e-6)
    assert drift["features"]["s1"] is None  # no figures for s1
    assert drift["status"] == "failing"  # age PSI is far above 0.25
    stats = c.stats(deployment["id"])
    assert stats["predictionRows"] == 1005 and stats["predictionMean"] == pytest.approx(152000.0 / 1005)


def test_thresholds_from_key_value_config_and_settings(service: Service, deployment: dict) -> None:
    c = service.client
    lenient = c.create_deployment(deployment["packageId"], unique("lenient"),
                                  key_value_config={"errorRateWarn": "0.5", "errorRateFail": 0.9})["deployment"]
    record = _stats_record(lenient, unique("r"), predictions=80, systemErrors=20, latencyCounts=_latency(b3=100))
    c.ingest([record])
    stats = c.stats(lenient["id"])
    assert stats["errorRate"] == 0.2 and stats["systemErrorRate"] == 0.2 and stats["serviceHealth"] == "passing"
    assert stats["thresholds"]["errorRateWarn"] == 0.5
    strict = c.create_deployment(deployment["packageId"], unique("strict"))["deployment"]
    c.ingest([_stats_record(strict, unique("r"), predictions=80, systemErrors=20, latencyCounts=_latency(b3=100))])
    assert c.stats(strict["id"])["serviceHealth"] == "failing"  # 20% >= the default failing level
    before = c.get_settings()["thresholds"]
    try:
        c.update_settings(thresholds={"errorRateFail": 0.3})
        assert c.stats(strict["id"])["serviceHealth"] == "warning"
    finally:
        c.update_settings(thresholds=before)
    with pytest.raises(ServiceError) as err:
        c.update_settings(thresholds={"errorRateWarn": 0.5, "errorRateFail": 0.4})
    assert err.value.status_code == 422
    assert "errorRateWarn=0.5 must be >= 0 and <= errorRateFail=0.4" in err.value.message
    with pytest.raises(ServiceError) as err:
        c.update_settings(thresholds={"cpu": 1})
    assert err.value.status_code == 422 and "unknown threshold(s): cpu" in err.value.message


def test_user_errors_are_judged_apart_from_system_errors(service: Service, deployment: dict) -> None:
    """Issue 17 finding 8: ordinary 4xx answers (a client's bad rows) no longer turn a healthy deployment failing."""
    c = service.client
    for user_errors, health in ((5, "passing"), (20, "warning"), (60, "warning"), (100, "failing")):
        dep = c.create_deployment(deployment["packageId"], unique("users"))["deployment"]
        c.ingest([_stats_record(dep, unique("r"), predictions=100 - user_errors, userErrors=user_errors,
                                latencyCounts=_latency(b3=100 - user_errors))])
        stats = c.stats(dep["id"])
        assert stats["userErrorRate"] == user_errors / 100 and stats["systemErrorRate"] == 0
        assert stats["serviceHealth"] == health, (user_errors, stats["serviceHealth"])
    with pytest.raises(ServiceError) as err:
        c.update_settings(thresholds={"userErrorRateWarn": 0.9, "userErrorRateFail": 0.5})
    assert "userErrorRateWarn=0.9 must be >= 0 and <= userErrorRateFail=0.5" in err.value.message


def test_latency_health_levels(service: Service, deployment: dict) -> None:
    dep = service.client.create_deployment(deployment["packageId"], unique("slow"))["deployment"]
    service.client.ingest([_stats_record(dep, unique("r"), predictions=100, latencyCounts=_latency(b10=100))])
    stats = service.client.stats(dep["id"])
    assert stats["latencyP95Ms"] == pytest.approx(1500, rel=0.01)  # the middle of the old (1000, 2000] bucket
    assert stats["serviceHealth"] == "warning"


def test_unknown_deployment_figures_are_kept(service: Service) -> None:
    ghost = unique("external-app")
    record = {"recordId": unique("r"), "deploymentId": ghost, "modelId": "m", "minute": "2026-11-21T19:43:27Z",
              "kind": "stats", "predictions": 3}
    assert service.client.ingest([record]) == {"stored": 1, "duplicates": 0}
    with pytest.raises(ServiceError) as err:
        service.client.stats(unique("never-seen"))
    assert err.value.status_code == 404


def test_invalid_batch_stores_nothing(service: Service, deployment: dict) -> None:
    good = _stats_record(deployment, unique("good"), predictions=1)
    bad = _stats_record(deployment, unique("bad"), latencyCounts=[1, 2, 3])
    with pytest.raises(ServiceError) as err:
        service.client.ingest([good, bad])
    assert err.value.status_code == 422
    expected = f"records[1] (recordId {bad['recordId']!r}): latencyCounts has 3 buckets, expected {BINS}"
    assert expected in err.value.message
    assert service.client.ingest([good]) == {"stored": 1, "duplicates": 0}  # it was not stored by the failed batch
    for record, text in [({**good, "recordId": unique("x"), "minute": "soon"}, "minute 'soon' is not an ISO 8601"),
                         ({**good, "recordId": unique("x"), "kind": "gossip"}, "kind"),
                         ({**good, "recordId": unique("x"), "predictions": -1}, "predictions"),
                         ({**good, "recordId": unique("x"), "featureCounts": {"a": [1, -1]}}, "must not be negative")]:
        with pytest.raises(ServiceError) as err:
            service.client.ingest([record])
        assert err.value.status_code == 422 and text in err.value.message


def test_retention_purges_old_figures(service: Service, deployment: dict) -> None:
    dep = service.client.create_deployment(deployment["packageId"], unique("aged"))["deployment"]
    old = {"recordId": unique("r"), "deploymentId": dep["id"], "modelId": dep["modelId"],
           "minute": "2020-01-01T00:00:00Z", "kind": "stats", "predictions": 5}
    service.client.ingest([old])
    service.client.purge_events()
    purged = service.client.list_events(types=["events_purged"], limit=1)[0]
    assert purged["data"]["figureMinutes"] >= 1
    service.client.purge_events()  # nothing old is left: no new purge event
    assert service.client.list_events(types=["events_purged"], limit=1)[0]["id"] == purged["id"]


def test_stats_window_bounds(service: Service, deployment: dict) -> None:
    with pytest.raises(ServiceError) as err:
        service.client.stats(deployment["id"], window=5)
    assert err.value.status_code == 422 and "window" in err.value.message
    old = {"recordId": unique("old"), "deploymentId": deployment["id"], "modelId": deployment["modelId"],
           "minute": "2020-01-01T00:00:00Z", "kind": "stats", "predictions": 1000}
    service.client.ingest([old])
    assert service.client.stats(deployment["id"], window=3600)["predictions"] < 1000  # outside the window


def test_agents_heartbeat(service: Service) -> None:
    agent = unique("mgmt")
    first = service.client.heartbeat(agent, "management", {"version": "0.1.0"})
    second = service.client.heartbeat(agent, "management")
    assert first["online"] and second["firstSeen"] == first["firstSeen"] and second["lastSeen"] >= first["lastSeen"]
    listed = next(a for a in service.client.list_agents() if a["agentId"] == agent)
    assert listed["kind"] == "management" and listed["online"]
    assert len(service.client.list_events(types=["agent_heartbeat"], search=agent)) == 1
    with pytest.raises(ServiceError) as err:
        service.client.heartbeat(agent, "janitor")
    assert err.value.status_code == 422 and "kind" in err.value.message


def test_all_stats_in_one_call(service: Service, deployment: dict) -> None:
    every = service.client.all_stats(window=3600)
    ids = [s["deploymentId"] for s in every]
    assert deployment["id"] in ids and ids == [d["id"] for d in service.client.list_deployments()]
    one = next(s for s in every if s["deploymentId"] == deployment["id"])
    assert one == service.client.stats(deployment["id"], 3600)


def test_environment_components(service: Service) -> None:
    name = unique("traefik")
    service.client.report_component(name, "passing", "routers: 3", {"routers": 3}, agent_id="mgmt-1")
    service.client.report_component(name, "passing", "routers: 3")
    service.client.report_component(name, "failing", "api unreachable")
    health = service.client.environment_health()[name]
    assert health["status"] == "failing" and health["detail"] == "api unreachable"
    changes = service.client.list_events(types=["component_status_changed"], search=name)
    assert [e["status"] for e in changes] == ["failing", "passing"]  # one event per change, newest first
    with pytest.raises(ServiceError) as err:
        service.client.report_component("Bad Name!", "passing")
    assert err.value.status_code == 422


def test_drift_unknown_below_the_minimum_rows(service: Service, deployment: dict) -> None:
    c = service.client
    baseline = c.baseline(deployment["id"])
    skewed = [1] * (len(baseline["features"]["age"]["proportions"]) - 1) + [9]
    fresh = c.create_deployment(deployment["packageId"], unique("few"), external=True)["deployment"]
    c.ingest([{"recordId": unique("p"), "deploymentId": fresh["id"], "modelId": fresh["modelId"],
               "minute": _minute(), "kind": "predictions", "rows": 18, "featureCounts": {"age": skewed}}])
    drift = c.stats(fresh["id"])["drift"]
    assert drift["features"]["age"] > 0.25  # far off the baseline, but from 18 rows only
    assert drift["rows"] == 18
    assert drift["status"] == "unknown"


def _psi_floored(expected: list[float], counts: list[int]) -> float:
    total = sum(counts)
    pairs = [(max(e, 1e-4), max(c / total, 1e-4)) for e, c in zip(expected, counts, strict=True)]
    return sum((a - e) * math.log(a / e) for e, a in pairs)


def _jsd(expected: list[float], counts: list[int]) -> float:
    total = sum(counts)
    value = 0.0
    for e, c in zip(expected, counts, strict=True):
        a, m = c / total, (e + c / total) / 2
        value += (0.5 * e * math.log2(e / m) if e else 0.0) + (0.5 * a * math.log2(a / m) if a else 0.0)
    return math.sqrt(value)


def _hellinger(expected: list[float], counts: list[int]) -> float:
    total = sum(counts)
    return math.sqrt(1 - sum(math.sqrt(e * c / total) for e, c in zip(expected, counts, strict=True)))


def test_drift_measures_from_the_same_bins_and_the_metric_driving_the_status(service: Service,
                                                                             deployment: dict) -> None:
    c = service.client
    baseline = c.baseline(deployment["id"])
    bmi = baseline["features"]["bmi"]["proportions"]
    counts = [0] * (len(bmi) - 2) + [50, 950]  # everything in the top bins: far from the baseline
    for metric in ("psi", "jsd", "hellinger"):
        dep = c.create_deployment(deployment["packageId"], unique(f"drift-{metric}"),
                                  key_value_config={"driftMetric": metric})["deployment"]
        c.ingest([{"recordId": unique("p"), "deploymentId": dep["id"], "modelId": dep["modelId"],
                   "minute": _minute(), "kind": "predictions", "rows": 1000, "featureCounts": {"bmi": counts}}])
        drift = c.stats(dep["id"])["drift"]
        assert drift["metric"] == metric
        assert drift["psi"]["features"]["bmi"] == pytest.approx(_psi_floored(bmi, counts), abs=1e-6)
        assert drift["features"]["bmi"] == drift["psi"]["features"]["bmi"]
        assert drift["jsd"]["features"]["bmi"] == pytest.approx(_jsd(bmi, counts), abs=1e-6)
        assert drift["hellinger"]["features"]["bmi"] == pytest.approx(_hellinger(bmi, counts), abs=1e-6)
        assert 0 < drift["hellinger"]["features"]["bmi"] <= 1 and 0 < drift["jsd"]["features"]["bmi"] <= 1
        assert drift["status"] == "failing"
    # A distance threshold above the figure makes that metric's status pass while PSI would still fail.
    lenient = c.create_deployment(deployment["packageId"], unique("drift-lenient"), key_value_config={
        "driftMetric": "hellinger", "hellingerWarn": 0.99, "hellingerFail": 1.0})["deployment"]
    c.ingest([{"recordId": unique("p"), "deploymentId": lenient["id"], "modelId": lenient["modelId"],
               "minute": _minute(), "kind": "predictions", "rows": 1000, "featureCounts": {"bmi": counts}}])
    assert c.stats(lenient["id"])["drift"]["status"] == "passing"


def test_ingest_bodies_parse_as_the_json_module_would(service: Service, deployment: dict) -> None:
    """The bulk routes parse with orjson, and what orjson refuses (NaN) falls back to the json module."""
    headers = {"Authorization": f"Bearer {service.token}", "Content-Type": "application/json"}
    url = f"{service.url}/api/v1/monitoring/ingest"
    record = _stats_record(deployment, unique("fast"), predictions=3)
    assert httpx.post(url, content=json.dumps({"records": [record]}), headers=headers).json() == \
        {"stored": 1, "duplicates": 0}
    nan = json.dumps({"records": [{**record, "recordId": unique("nan"), "executionTimeMs": float("nan")}]})
    assert "NaN" in nan
    answer = httpx.post(url, content=nan, headers=headers)
    assert answer.status_code == 422 and "executionTimeMs" in answer.text, answer.text  # read, then refused by name
    broken = httpx.post(url, content=b'{"records": [', headers=headers)
    assert broken.status_code == 422 and "JSON decode error" in broken.text, broken.text
