"""traefik's access log lines: which are requests no PPS answered (issue 17, finding 8)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from bosun_local.agent.route_errors import IDLE_SEC, RouteErrors, undelivered

DEP = "a" * 24


def line(path: str, status: int, origin: int = 0, start: str = "2026-12-01T09:20:30.266581148Z") -> bytes:
    return json.dumps({"RequestPath": path, "DownstreamStatus": status, "OriginStatus": origin,
                       "StartUTC": start}).encode() + b"\n"


def test_undelivered_requests_are_told_from_the_ppss_own_answers() -> None:
    minute = "2026-12-01T09:20:00Z"
    assert undelivered(line(f"/deployments/{DEP}/predictions", 404)) == (DEP, minute)
    assert undelivered(line(f"/predApi/v1.0/deployments/{DEP}/predictions", 503)) == (DEP, minute)
    assert undelivered(line(f"/deployments/{DEP}/predictions", 502, 502)) == (DEP, minute)  # as traefik logs it
    assert undelivered(line(f"/deployments/{DEP}/predictions", 504, 504)) == (DEP, minute)
    assert undelivered(line(f"/deployments/{DEP}/predictions", 404, 404)) is None  # the PPS answered: it reports
    assert undelivered(line(f"/deployments/{DEP}/predictions", 503, 503)) is None
    assert undelivered(line(f"/deployments/{DEP}/info", 404)) is None  # the plugin's probe, not a prediction
    assert undelivered(line(f"/deployments/{DEP}/metrics", 404)) is None  # Prometheus' scrape, not a prediction
    assert undelivered(line("/other/path", 404)) is None
    assert undelivered(b"not json\n") is None
    assert undelivered(line(f"/deployments/{DEP}/predictions", 404, start="garbage")) is None


class Recorder:
    """The service's side of RouteErrors: one live deployment, and every record it is sent."""

    def __init__(self) -> None:
        self.records: list[dict[str, object]] = []

    def list_deployments(self) -> list[dict[str, object]]:
        return [{"id": DEP, "desiredState": "running", "packageId": "m"}]

    def ingest(self, records: list[dict[str, object]]) -> dict[str, int]:
        self.records.extend(records)
        return {"stored": len(records)}


@pytest.mark.faults  # issue 17's fault suite: traefik's log under a flood of failures
def test_access_log_stays_small_under_a_steady_flood_and_counts_every_line(tmp_path: Path) -> None:
    log_path, limit = tmp_path / "access.json", 64 << 10
    recorder = Recorder()
    errors = RouteErrors(log_path, tmp_path / "offset.json", recorder, max_bytes=limit)  # type: ignore[arg-type]
    entry = line(f"/deployments/{DEP}/predictions", 502, 502)
    written, allocated = 0, []
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)  # as traefik opens it
    try:
        for _ in range(200):  # never idle: 200 lines between ticks, 40,000 in all (~5 MB)
            for _ in range(200):
                os.write(fd, entry)
            written += 200
            errors.tick()
            allocated.append(os.stat(log_path).st_blocks * 512)
    finally:
        os.close(fd)
    errors.tick()
    assert len(recorder.records) == written == 40_000
    assert len({r["recordId"] for r in recorder.records}) == written  # each line once, none lost to a truncate
    assert max(allocated) < limit + (64 << 10), max(allocated)  # the limit plus one tick's lines, never the 5 MB
    assert os.stat(log_path).st_size > limit  # never idle, so never emptied: the holes did all the work
    time.sleep(IDLE_SEC + 0.1)
    errors.tick()  # quiet now: emptied, and counting starts again at its beginning
    assert os.stat(log_path).st_size == 0
    with open(log_path, "ab") as log:
        log.write(entry)
    errors.tick()
    assert len(recorder.records) == written + 1
