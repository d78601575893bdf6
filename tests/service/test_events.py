"""Events: filters, search, export, retention purge, and webhook notifications (delivered, failed, non-blocking)."""
from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bosun_local.client import ServiceError
from tests.support.service import free_port

from .helpers import Service, start, unique


class Hook:
    """A local webhook receiver: records JSON bodies; answers `status`; holds answers while `gate` is clear."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict] = []
        self.status = status
        self.gate = threading.Event()
        self.gate.set()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                hook.bodies.append(body)
                hook.gate.wait(30)
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.close()


def _wait_until(predicate: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_filters_search_and_time_range(service: Service) -> None:
    dep, other = "a" * 24, "b" * 24
    tag = unique("tag")
    c = service.client
    c.post_event("action_failed", "failing", f"start failed {tag} port busy", deployment_id=dep, data={"code": 7})
    c.post_event("health_changed", "warning", f"slow {tag}", deployment_id=dep)
    c.post_event("health_changed", "passing", f"fine {tag}", deployment_id=other)
    c.post_event("note", "info", f"old {tag}", deployment_id=dep, time_=_ago(days=3))

    assert {e["message"] for e in c.list_events(search=tag)} == {
        f"start failed {tag} port busy", f"slow {tag}", f"fine {tag}", f"old {tag}"}
    assert [e["message"] for e in c.list_events(deployment=dep, search=tag)] == [
        f"slow {tag}", f"start failed {tag} port busy", f"old {tag}"]  # newest first
    assert [e["status"] for e in c.list_events(types=["health_changed"], search=tag)] == ["passing", "warning"]
    assert len(c.list_events(statuses=["failing", "warning"], search=tag)) == 2
    assert [e["message"] for e in c.list_events(search=tag, since="1d")] == [
        f"fine {tag}", f"slow {tag}", f"start failed {tag} port busy"]
    assert [e["message"] for e in c.list_events(search=tag, until="1d")] == [f"old {tag}"]
    assert [e["message"] for e in c.list_events(search="PORT BUSY")] == [f"start failed {tag} port busy"]
    assert len(c.list_events(search='"code":7')) == 1  # data is searched too
    c.post_event("note", "info", "unicode data", data={"where": f"Zürich {tag}"})
    assert [e["message"] for e in c.list_events(search=f"zürich {tag}")] == ["unicode data"]
    assert len(c.list_events(search=tag, limit=1)) == 1
    assert c.list_events(search="100%_no_wildcards") == []


def test_bad_event_inputs(service: Service) -> None:
    for call, text in [
        (lambda: service.client.list_events(since="yesterday-ish"), "since 'yesterday-ish' is not a time"),
        (lambda: service.client.post_event("t", "purple", "m"), "status"),
        (lambda: service.client.post_event("", "info", "m"), "type"),
        (lambda: service.client.post_event("t", "info", "m", time_="noon"), "time 'noon' is not a time"),
    ]:
        with pytest.raises(ServiceError) as err:
            call()
        assert err.value.status_code == 422 and text in err.value.message


def test_export_json_and_csv(service: Service) -> None:
    tag = unique("exp")
    service.client.post_event("a", "info", f"first, {tag}", data={"n": 1})
    service.client.post_event("b", "failing", f'second "quoted" {tag}')
    exported = json.loads(service.client.export_events("json", search=tag))
    assert [e["message"] for e in exported] == [f"first, {tag}", f'second "quoted" {tag}']  # oldest first
    assert exported[0]["data"] == {"n": 1}
    rows = list(csv.DictReader(io.StringIO(service.client.export_events("csv", search=tag))))
    assert [(r["type"], r["status"], r["message"]) for r in rows] == [
        ("a", "info", f"first, {tag}"), ("b", "failing", f'second "quoted" {tag}')]
    assert json.loads(rows[0]["data"]) == {"n": 1}
    with pytest.raises(ServiceError) as err:
        service.client.export_events("xml")
    assert err.value.status_code == 422 and "format" in err.value.message


def test_purge_on_request(service: Service) -> None:
    tag = unique("purge")
    service.client.post_event("t", "info", f"ancient {tag}", time_=_ago(days=400))
    service.client.post_event("t", "info", f"recent {tag}")
    removed = service.client.purge_events()["removed"]  # default retention: 90 days
    assert removed >= 1
    assert [e["message"] for e in service.client.list_events(search=tag)] == [f"recent {tag}"]
    purged = service.client.list_events(types=["events_purged"])
    assert "minute(s) of monitoring figures older than 90 day(s)" in purged[0]["message"]
    service.client.post_event("t", "info", f"week {tag}", time_=_ago(days=7))
    assert service.client.purge_events(older_than_days=5)["removed"] == 1


def test_periodic_purge_uses_configured_retention(tmp_path: Path, db_env: dict[str, str]) -> None:
    env = {"BOSUN_SERVICE_PURGE_INTERVAL_SEC": "0.3", "BOSUN_EVENT_RETENTION_DAYS": "2", **db_env}
    with start(tmp_path / "home", env=env) as svc:
        svc.client.post_event("t", "info", "three days old", time_=_ago(days=3))
        svc.client.post_event("t", "info", "one day old", time_=_ago(days=1))
        _wait_until(lambda: not svc.client.list_events(search="three days old"))
        assert [e["message"] for e in svc.client.list_events(search="day old")] == ["one day old"]
        assert svc.client.get_settings()["eventRetentionDays"] == 2


def test_webhook_delivered_with_filters(service: Service, hook: Hook) -> None:
    c = service.client
    kind = unique("failed")
    rule = c.create_notification(hook.url, name="ops", statuses=["failing"], types=[kind])
    assert rule["statuses"] == ["failing"] and c.get_notification(rule["id"])["url"] == hook.url
    c.post_event(kind, "warning", "not failing: filtered out")
    c.post_event("health_changed", "failing", "wrong type: filtered out")
    c.post_event(kind, "failing", "deployment_start failed: port busy", deployment_id="c" * 24)
    _wait_until(lambda: len(hook.bodies) >= 1)
    time.sleep(0.5)  # give filtered events a chance to show up wrongly
    assert len(hook.bodies) == 1
    body = hook.bodies[0]
    assert set(body) == {"text", "event"}
    assert f"[failing] {kind} deployment {'c' * 24}: deployment_start failed: port busy" in body["text"]
    assert body["event"]["message"] == "deployment_start failed: port busy"
    c.delete_notification(rule["id"])
    assert rule["id"] not in [r["id"] for r in c.list_notifications()]
    with pytest.raises(ServiceError) as err:
        c.get_notification(rule["id"])
    assert err.value.status_code == 404


def test_failing_webhook_recorded_not_raised(service: Service) -> None:
    c = service.client
    dead = f"http://127.0.0.1:{free_port()}/nothing-listens"
    kind = unique("boom")
    # The rule asks for notification_failed too: the service must still not notify its own failures.
    rule = c.create_notification(dead, types=[kind, "notification_failed"])
    answer = c.post_event(kind, "failing", "boom")
    assert answer["message"] == "boom"  # the caller got its answer; delivery happens in the background
    _wait_until(lambda: c.list_events(types=["notification_failed"], search=dead))
    time.sleep(1.5)  # room for a wrongly notified failure to fail (3 tries, 0.2 s backoff) and be recorded too
    failures = c.list_events(types=["notification_failed"], search=dead)
    assert len(failures) == 1
    failure = failures[0]
    assert failure["status"] == "warning" and "failed 3 times" in failure["message"]
    assert failure["data"]["eventId"] == answer["id"] and failure["data"]["attempts"] == 3
    c.delete_notification(rule["id"])


def test_http_error_webhook_recorded(service: Service) -> None:
    receiver = Hook(status=500)
    kind = unique("err")
    try:
        rule = service.client.create_notification(receiver.url, types=[kind])
        event = service.client.post_event(kind, "info", "x")
        _wait_until(lambda: service.client.list_events(types=["notification_failed"], search=event["id"]))
        assert len(receiver.bodies) == 3  # retried with backoff, then given up
        failure = service.client.list_events(types=["notification_failed"], search=event["id"])[0]
        assert "HTTP 500" in failure["message"]
        service.client.delete_notification(rule["id"])
    finally:
        receiver.close()


def test_slow_webhook_never_blocks_callers(service: Service, hook: Hook) -> None:
    hook.gate.clear()  # the receiver holds every request until released
    kind = unique("slow")
    rule = service.client.create_notification(hook.url, types=[kind])
    service.client.post_event(kind, "info", "first")
    _wait_until(lambda: len(hook.bodies) == 1)
    # While the notifier waits on the receiver, API calls still complete.
    for n in range(5):
        service.client.post_event(kind, "info", f"more {n}")
    assert len(service.client.list_events(types=[kind])) == 6
    assert not hook.gate.is_set()
    hook.gate.set()
    _wait_until(lambda: len(hook.bodies) == 6)
    service.client.delete_notification(rule["id"])


def test_notification_rule_validation(service: Service) -> None:
    for body, text in [({"url": "ftp://x"}, "url"), ({"url": "http://x", "statuses": ["purple"]}, "statuses")]:
        with pytest.raises(ServiceError) as err:
            service.client.create_notification(**body)
        assert err.value.status_code == 422 and text in err.value.message
