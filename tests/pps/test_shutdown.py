"""SIGTERM: stop accepting, finish every in-flight request, flush the reports, exit 0."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.pps.conftest import PPSServer
from tests.pps.packages import ROW, custom_package
from tests.pps.spool import requests, spooled

IN_FLIGHT = 6
DELAY_SEC = 1.5
# score() marks each row as started, so the test signals only once every request is really in flight.
MARKING_MODEL = '''
import os
import time
from pathlib import Path

import pandas as pd


def load_model(code_dir):
    return float(Path(code_dir, "offset.txt").read_text())


def score(data, model):
    for x in data["x"]:
        Path(os.environ["TEST_MARKERS"], str(int(x))).touch()
    time.sleep(float(data["delay"].max()))
    return pd.DataFrame({"Predictions": data["x"] * 2 + model})
'''


def test_sigterm_with_requests_in_flight_loses_none(start_server: object, tmp_path: Path) -> None:
    spool, markers = tmp_path / "spool", tmp_path / "markers"
    spool.mkdir()
    markers.mkdir()
    package = custom_package(tmp_path / "pkg", source=MARKING_MODEL)
    server: PPSServer = start_server({  # type: ignore[operator]
        "PPS_MODEL_DIR": str(package), "TEST_MARKERS": str(markers),
        "MLOPS_DEPLOYMENT_ID": "dep-1", "MLOPS_MODEL_ID": "model-1",
        "MONITORING_ENABLED": "1", "MLOPS_SPOOLER_TYPE": "FILESYSTEM", "MLOPS_FILESYSTEM_DIRECTORY": str(spool)})
    results: dict[int, object] = {}

    def call(i: int) -> None:
        try:
            resp = httpx.post(server.url + "/predictions", json=[{"x": i, "delay": DELAY_SEC}], timeout=60)
            results[i] = (resp.status_code, resp.json()["data"][0]["prediction"])
        except Exception as exc:  # recorded, and the assertion below names it
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(IN_FLIGHT)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(list(markers.iterdir())) < IN_FLIGHT and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(list(markers.iterdir())) == IN_FLIGHT, "the requests never reached score()"
    server.proc.terminate()
    for thread in threads:
        thread.join(60)
    assert results == {i: (200, 2.0 * i + 1.0) for i in range(IN_FLIGHT)}
    assert server.wait_exit(60) == 0, server.output()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/ping", timeout=2)
    reported = requests(spooled(spool))
    assert len(reported) == IN_FLIGHT and all(r[0] == 1 for r in reported)
    assert all(r[1] >= DELAY_SEC * 1000 for r in reported)


def test_workers_serve_report_and_stop_cleanly(start_server: object, packages: dict[str, Path],
                                               tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    server: PPSServer = start_server({  # type: ignore[operator]
        "PPS_MODEL_DIR": str(packages["regression"]), "PREDICTION_API_WORKERS": "2",
        "MLOPS_DEPLOYMENT_ID": "dep-w", "MLOPS_MODEL_ID": "model-w",
        "MLOPS_SPOOLER_TYPE": "FILESYSTEM", "MLOPS_FILESYSTEM_DIRECTORY": str(spool)})
    with httpx.Client(base_url=server.url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        for _ in range(40):
            assert client.get("/predict", params=ROW).status_code == 200
    assert server.stop() == 0, server.output()
    assert sum(r[0] for r in requests(spooled(spool))) == 40
