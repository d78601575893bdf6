"""Big bodies in a memory-limited container (issue 17, finding 3): score or a 413 naming the limit, never an OOM kill.

The PPS runs in the runtime image under `docker run --memory 512m` (a deployment's default), so the budget comes
from the real cgroup limit; health checks keep being answered while it parses and scores.
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bosun_local.config import load_defaults
from tests.conftest import free_port
from tests.pps.packages import DIABETES, ROW

HEADER = ",".join(DIABETES).encode() + b"\n"
LINE = ",".join(str(ROW[n]) for n in DIABETES).encode() + b"\n"


def _docker(*args: str, timeout: float = 120) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True, timeout=timeout).stdout


@pytest.fixture(scope="module")
def limited_pps(stack_images: None, packages: dict[str, Path]) -> Iterator[str]:
    """A PPS container limited to 512 MB serving the regression package; yields its URL."""
    image = os.environ.get("BOSUN_PPS_BASE_IMAGE") or load_defaults()["ppsBaseImage"]
    package = packages["regression"]
    name, port = f"bosun-test-oom-{uuid.uuid4().hex[:8]}", free_port()
    _docker("run", "-d", "--name", name, "--memory", "512m", "--memory-swap", "512m", "--user", "0",
            "-p", f"127.0.0.1:{port}:8080", "-v", f"{package}:{package}:ro", "-e", f"PPS_MODEL_DIR={package}",
            "-e", "PORT=8080", "-e", "MONITORING_ENABLED=0", image, "python", "-m", "bosun_local.pps")
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail(f"the PPS container did not answer:\n{_docker('logs', name)}")
        yield name + " " + url
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


def _post_while_pinging(url: str, body: bytes) -> tuple[httpx.Response, list[float]]:
    pings: list[float] = []
    done = threading.Event()

    def ping() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while not done.is_set():
                started = time.perf_counter()
                assert client.get("/ping").status_code == 200
                pings.append(time.perf_counter() - started)
                time.sleep(0.1)

    pinger = threading.Thread(target=ping)
    pinger.start()
    try:
        return httpx.post(f"{url}/predictions", content=body, headers={"Content-Type": "text/csv"},
                          timeout=300), pings
    finally:
        done.set()
        pinger.join()


def test_600k_row_csv_scores_or_413_never_oom(limited_pps: str) -> None:
    name, url = limited_pps.split(" ")
    for rows in (600_000, 300_000):
        resp, pings = _post_while_pinging(url, HEADER + LINE * rows)
        assert resp.status_code in (200, 413), resp.text[:300]
        print(f"{rows} rows: {resp.status_code} {resp.text[:200]}; max ping {max(pings, default=0):.3f} s")
        if resp.status_code == 413:
            message = resp.json()["message"]
            assert "memory limit of 512 MB" in message and "rows per request" in message, message
        else:
            assert len(resp.json()["data"]) == rows
        assert pings and max(pings) < 2.0, (rows, max(pings, default=None))
    state = json.loads(_docker("inspect", "--format", "{{json .State}}", name))
    assert state["Running"] and not state["OOMKilled"], state
    small = httpx.post(f"{url}/predictions", content=HEADER + LINE * 1000, headers={"Content-Type": "text/csv"},
                       timeout=60)
    assert small.status_code == 200 and len(small.json()["data"]) == 1000
