"""traefik's access log lines: which are requests no PPS answered (issue 17, finding 8)."""
from __future__ import annotations

import json

from bosun_local.agent.route_errors import undelivered

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
    assert undelivered(line("/other/path", 404)) is None
    assert undelivered(b"not json\n") is None
    assert undelivered(line(f"/deployments/{DEP}/predictions", 404, start="garbage")) is None
