"""Drift against a registered package's training baseline, and status changes posted as events."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from bosun_local.contracts import records
from bosun_local.monitoring.status_events import DRIFT_STATUS_CHANGED, SERVICE_HEALTH_CHANGED
from bosun_local.spool.filesystem.config import FsChannelConfig
from bosun_local.spool.filesystem.writer import FilesystemSpoolWriter
from tests.support.monitoring import Service, agent_running, fast_config, stats, unique, wait_until

ROWS_PER_RECORD = 500


def sample(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    """Return rows of the training distribution, x1 shifted by `shift`."""
    return pd.DataFrame({"x1": rng.normal(0, 1, rows) + shift, "x2": rng.normal(5, 2, rows),
                         "color": rng.choice(["red", "green", "blue"], rows, p=[0.5, 0.3, 0.2])})


def register_package(service: Service, directory: Path) -> dict:
    """Register a small regression package with training data through the client."""
    rng = np.random.default_rng(1)
    frame = sample(rng, 2000)
    frame["y"] = 2 * frame["x1"] + frame["x2"]
    directory.mkdir(parents=True)
    model = LinearRegression().fit(frame[["x1", "x2"]], frame["y"])
    (directory / "model.pkl").write_bytes(pickle.dumps(model))
    (directory / "model.yaml").write_text(
        "name: drift-test\ntargetName: y\ntargetType: regression\nfeatures:\n"
        "  - {name: x1, type: numeric}\n  - {name: x2, type: numeric}\n  - {name: color, type: categorical}\n")
    frame.to_csv(directory / "training.csv", index=False)
    return service.client.register_package(directory)


def prediction_lines(deployment_id: str, model_id: str, frame: pd.DataFrame) -> list[str]:
    """Return PREDICTIONS_DATA records of a frame with the true target as the prediction."""
    lines = []
    for start in range(0, len(frame), ROWS_PER_RECORD):
        part = frame.iloc[start:start + ROWS_PER_RECORD]
        data = {"timestamp": records.format_timestamp(), "modelId": model_id,
                "features": {c: part[c].tolist() for c in part.columns},
                "predictions": (2 * part["x1"] + part["x2"]).tolist()}
        lines.append(records.encode(records.new_record_id(), deployment_id, records.PREDICTIONS_DATA, data))
    return lines


def latest(service: Service, deployment_id: str, type_: str) -> dict | None:
    events = service.client.list_events(deployment=deployment_id, types=[type_], limit=1)
    return events[0] if events else None


def test_shifted_data_turns_drift_red_and_posts_the_change(service: Service, tmp_path: Path) -> None:
    package = register_package(service, tmp_path / "package")
    created = service.client.create_deployment(package["id"], unique("drift"), external=True)
    dep = created["deployment"]
    assert dep["modelId"] == package["id"]
    rng = np.random.default_rng(2)
    spool = tmp_path / "spool"
    writer = FilesystemSpoolWriter(spool, max_file_size=64 << 20, max_num_files=100)
    writer.write(prediction_lines(dep["id"], dep["modelId"], sample(rng, 2000)))
    with agent_running(fast_config(service, (FsChannelConfig(spool),))) as agent:
        wait_until(lambda: (latest(service, dep["id"], DRIFT_STATUS_CHANGED) or {}).get("status") == "passing",
                   "drift to be reported passing for data like the training data")
        calm = stats(service, dep["id"])["drift"]
        assert calm["status"] == "passing" and max(calm["features"].values()) < 0.1
        # Ten times as much data with x1 shifted by 3 standard deviations.
        writer.write(prediction_lines(dep["id"], dep["modelId"], sample(rng, 20_000, shift=3.0)))
        wait_until(lambda: (latest(service, dep["id"], DRIFT_STATUS_CHANGED) or {}).get("status") == "failing",
                   "drift to turn failing for shifted data")
        assert agent.counters.rows == 22_000
    drift = stats(service, dep["id"])["drift"]
    assert drift["status"] == "failing"
    assert drift["features"]["x1"] > 0.25 and drift["prediction"] > 0.25
    assert drift["features"]["x2"] < 0.1 and drift["features"]["color"] < 0.1
    event = latest(service, dep["id"], DRIFT_STATUS_CHANGED)
    assert event is not None and event["data"]["previous"] == "passing" and "x1" in event["message"]
    changes = service.client.list_events(deployment=dep["id"], types=[DRIFT_STATUS_CHANGED])
    assert [e["status"] for e in changes] == ["failing", "passing"]  # once per change, newest first


def test_service_health_change_is_posted_once_per_change(service: Service, tmp_path: Path) -> None:
    dep = unique("dep-health")
    spool = tmp_path / "spool"
    writer = FilesystemSpoolWriter(spool, max_file_size=64 << 20, max_num_files=100)

    def requests(count: int, errors: int) -> list[str]:
        return [records.encode(records.new_record_id(), dep, records.DEPLOYMENT_STATS,
                               records.deployment_stats_data("m1", 1, 4.0, system_error=i < errors))
                for i in range(count)]

    writer.write(requests(100, 0))
    with agent_running(fast_config(service, (FsChannelConfig(spool),))) as agent:
        wait_until(lambda: (latest(service, dep, SERVICE_HEALTH_CHANGED) or {}).get("status") == "passing",
                   "service health passing")
        # Half of all requests fail on the server now (5xx): the system error rate passes the fail threshold.
        writer.write(requests(100, 100))
        wait_until(lambda: (latest(service, dep, SERVICE_HEALTH_CHANGED) or {}).get("status") == "failing",
                   "service health failing")
        assert agent.counters.stored == 200
    # A new agent continues from the service's last event: no repeated "failing" event.
    with agent_running(fast_config(service, (FsChannelConfig(spool),))) as again:
        again.deployments.add(dep)
        wait_until(lambda: again.status_polls >= 2, "two status polls of the new agent")
    changes = service.client.list_events(deployment=dep, types=[SERVICE_HEALTH_CHANGED])
    assert [e["status"] for e in changes] == ["failing", "passing"]
