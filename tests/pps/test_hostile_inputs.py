"""Hostile bodies (issue 17, findings 2 and 6): each is a quick 4xx naming the problem, and the PPS keeps serving."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.pps.conftest import PPSServer
from tests.pps.packages import DIABETES, ROW

CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}
VALUES = ",".join(str(ROW[n]) for n in DIABETES)
ROUTES = ("/predictions", "/predApi/v1.0/deployments/dep-hostile/predictions")


@pytest.fixture(scope="module")
def server(packages: dict[str, Path]) -> Iterator[PPSServer]:
    """A regression server with the default body limit (the hostile bodies stay well under 50 MB)."""
    srv = PPSServer({"PPS_MODEL_DIR": str(packages["regression"]), "MLOPS_DEPLOYMENT_ID": "dep-hostile"})
    try:
        yield srv.wait_ready()
    finally:
        srv.stop()


def _timed_while_pinging(server: PPSServer, path: str, body: bytes, headers: dict[str, str]) -> tuple[
        httpx.Response, float, list[float]]:
    """Send one request while another client pings; return its answer, its time and the pings' latencies."""
    pings: list[float] = []
    done, first = threading.Event(), threading.Event()

    def ping() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            while not done.is_set():
                started = time.perf_counter()
                assert client.get("/ping").status_code == 200
                pings.append(time.perf_counter() - started)
                first.set()
                time.sleep(0.02)

    pinger = threading.Thread(target=ping)
    pinger.start()
    try:
        assert first.wait(10)
        started = time.perf_counter()
        resp = server.client.post(path, content=body, headers=headers)
        elapsed = time.perf_counter() - started
        time.sleep(0.1)
    finally:
        done.set()
        pinger.join()
    return resp, elapsed, pings


@pytest.mark.parametrize("path", ROUTES)
def test_wide_csv_header_is_a_quick_4xx_while_others_are_served(server: PPSServer, path: str) -> None:
    """Finding 2: a 20,000-column header (110 KB) took 34 s in a quadratic duplicate check; now < 1 s."""
    wide = ",".join(f"c{i}" for i in range(20_000)).encode() + b"\n" + b",".join([b"1"] * 20_000) + b"\n"
    resp, elapsed, pings = _timed_while_pinging(server, path, wide, CSV)
    assert resp.status_code == 422 and "20000 columns, over the limit" in resp.json()["message"], resp.text
    assert elapsed < 1.0, elapsed
    assert pings and max(pings) < 1.0, pings

    # Under the width bound, the duplicate check is linear too: 9,990 names twice over.
    names = [f"d{i % 4995}" for i in range(9_990)] + DIABETES
    dupes = (",".join(names) + "\n" + ",".join(["1"] * len(names)) + "\n").encode()
    resp, elapsed, _ = _timed_while_pinging(server, path, dupes, CSV)
    message = resp.json()["message"]
    assert resp.status_code == 422 and "twice: d0, d1" in message and "and 4975 more" in message, message
    assert elapsed < 1.0 and len(message) < 1000, (elapsed, len(message))

    # Distinct unknown names: the 422 lists a few of them, not 9,990.
    unknown = [f"u{i}" for i in range(9_990)] + DIABETES
    body = (",".join(unknown) + "\n" + ",".join(["1"] * len(unknown)) + "\n").encode()
    resp = server.client.post("/predictions", content=body, headers=CSV)
    assert resp.status_code == 422 and "and 9970 more" in resp.json()["message"], resp.text[:300]
    assert server.client.post(path, content=f"{','.join(DIABETES)}\n{VALUES}\n", headers=CSV).status_code == 200


HOSTILE_JSON = [
    ("5,000-digit integer", ('[{"age": ' + "9" * 5000 + "}]").encode(), 400, "digits"),
    ("deep JSON", b"[" * 100_000 + b"]" * 100_000, 400, "nests deeper than"),
    ("deep JSON object", b'{"data": ' * 50_000 + b"1" + b"}" * 50_000, 400, "nests deeper than"),
    ("deep value in a row", ('[{"age": ' + "[" * 5000 + "]" * 5000 + "}]").encode(), 400, "nests deeper than"),
]


@pytest.mark.parametrize(("body", "status", "words"), [c[1:] for c in HOSTILE_JSON], ids=[c[0] for c in HOSTILE_JSON])
@pytest.mark.parametrize("path", [*ROUTES, "/v2/models/diabetes/infer"])
def test_hostile_json_is_a_4xx_without_internals(server: PPSServer, path: str, body: bytes, status: int,
                                                 words: str) -> None:
    """Finding 6: a 5,000-digit integer and deep JSON were 500s; now a 400 that says why, and nothing internal."""
    resp = server.client.post(path, content=body, headers=JSON)
    assert resp.status_code == status, resp.text[:300]
    message = json.dumps(resp.json())
    assert words in message and "/" not in message.replace("/v2", "") and "Traceback" not in message, message
    assert server.client.post("/predictions", json=[ROW]).status_code == 200


def test_huge_numbers_in_csv_and_form_are_422(server: PPSServer) -> None:
    """A 5,000-digit number in CSV or form fields is out of float range: a 422 naming the column."""
    row = VALUES.replace("30", "9" * 5000, 1)
    resp = server.client.post("/predictions", content=f"{','.join(DIABETES)}\n{row}\n", headers=CSV)
    assert resp.status_code == 422 and "column 'age' row 0" in resp.json()["message"], resp.text[:300]
    form = "&".join(f"{k}={'9' * 5000 if k == 'age' else v}" for k, v in ROW.items())
    resp = server.client.post("/predict", content=form,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 422 and "not a finite number" in resp.json()["message"], resp.text[:300]
