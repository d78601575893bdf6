"""Challengers, canary and rollback end to end: service, agent, docker plugin, traefik's file provider, PPS, RabbitMQ
and a monitoring agent on the real engine. One stack and one deployment go through every step (CI time)."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

from bosun_local.contracts import labels
from bosun_local.engine import adapter
from tests.agent.harness import AgentEnv, agent_env, until
from tests.agent.packages import FEATURES, ROW, diabetes_package
from tests.conftest import free_port

pytestmark = pytest.mark.docker
MIRRORED = 40
STREAM = 200


@pytest.fixture(scope="module")
def stack(stack_images: None) -> Iterator[AgentEnv]:
    with agent_env("bagtrf", agent_args=["--status-interval-sec", "1"], services="traefik,rabbitmq",
                   monitoringEnabled=True) as env:
        log = open(env.home / "logs" / "monitor-test.log", "ab")  # noqa: SIM115 - closed below
        monitor = subprocess.Popen([sys.executable, "-m", "bosun_local", "monitor", "run", "--status-every", "5"],
                                   env=env.env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield env
        finally:
            monitor.terminate()
            monitor.wait(30)
            log.close()
            env.stop_agent()  # else its next check relaunches the pool replicas removed here
            pool = adapter.containers_with_labels({labels.COMPONENT: labels.PPS_POOL, labels.NETWORK: env.name})
            adapter.remove_containers([c.name for c in pool], timeout=2)


class Webhook:
    """A local HTTP endpoint that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Load:
    """Send predictions from a thread until stopped (about `rate` a second); count failures and answers."""

    def __init__(self, url: str, rate: float = 20.0, max_sec: float = 240.0) -> None:
        self.url, self.pause, self.max_sec = url, 1.0 / rate, max_sec
        self.answers: Counter[float] = Counter()
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def ok(self) -> int:
        return sum(self.answers.values())

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_sec
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    response = http.post(self.url, json=[ROW])
                    if response.status_code == 200:
                        self.answers[round(response.json()["data"][0]["prediction"], 6)] += 1
                    else:
                        self.failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                # Paced: a load, not a saturation of a 2-core machine (the mirror doubles each request's work).
                self._stop.wait(self.pause)

    def __enter__(self) -> Load:
        self._thread.start()
        until("the first answers under load", lambda: self.ok >= 10 or self.failures, 60)
        return self

    def __exit__(self, *exc: object) -> None:
        seen = self.ok
        until("answers after the change", lambda: self.ok >= seen + 10 or self._stop.is_set(), 60)
        self._stop.set()
        self._thread.join(60)


def prediction_of(package: Path) -> float:
    """Return what the package's model predicts for ROW (computed here, to tell models apart by their answers)."""
    model = pickle.loads((package / "model.pkl").read_bytes())  # noqa: S301 - the test's own pickle
    return round(float(model.predict(pd.DataFrame([ROW])[FEATURES])[0]), 6)


def failing_package(directory: Path) -> Path:
    """Write a package that starts and answers /health but fails every prediction (an injected bad canary)."""
    diabetes_package(directory, alpha=3.0)
    (directory / "custom.py").write_text(textwrap.dedent("""
        def score(data, model, **kwargs):
            raise RuntimeError("injected canary failure")
    """))
    return directory


def compare(stack: AgentEnv, dep_id: str) -> dict[str, dict[str, Any]]:
    answer = stack.cli_json("stats", dep_id, "--compare", "--window", "1h")
    return {m["modelId"]: m for m in answer["models"]}


def post(url: str, times: int) -> list[float]:
    with httpx.Client(timeout=30) as http:
        answers = []
        for _ in range(times):
            response = http.post(url, json=[ROW])
            assert response.status_code == 200, response.text
            answers.append(round(response.json()["data"][0]["prediction"], 6))
    return answers


def test_challengers_canary_rollback_and_history(stack: AgentEnv, tmp_path: Path) -> None:
    try:
        steps(stack, tmp_path)
    except AssertionError as exc:
        traefik = subprocess.run(["docker", "logs", "--tail", "30", f"{stack.name}-traefik-1"], capture_output=True,
                                 text=True).stderr
        raise AssertionError(f"{str(exc)[:3000]}\n--- agent log:\n{stack.log_tail(60)}\n--- traefik:\n{traefik}") \
            from exc


def steps(stack: AgentEnv, tmp_path: Path) -> None:
    """Run every step on one deployment (one stack for the whole issue keeps CI time down)."""
    dirs = {"a": diabetes_package(tmp_path / "a"), "b": diabetes_package(tmp_path / "b", alpha=10.0)}
    ids = {k: stack.cli_json("packages", "register", str(d))["id"] for k, d in dirs.items()}
    value = {k: prediction_of(d) for k, d in dirs.items()}
    assert value["a"] != value["b"]
    dep = stack.cli_json("deploy", ids["a"], "--name", "traffic", "--wait")["deployment"]
    url, dep_id = dep["predictionUrl"], dep["id"]
    routes = stack.home / "traefik" / f"{stack.name}_{dep_id}.yaml"

    # A challenger (replay, the default feed) gets exactly the N rows the champion reported, sent on by the
    # monitoring agent once stored: no mirror route, nothing on the champion's request path.
    stack.cli("deployments", "challengers", "add", dep_id, ids["b"], "--wait")
    assert not routes.exists()  # the label router alone serves clients
    listed = stack.cli_json("deployments", "challengers", "list", dep_id)
    assert [(c["modelId"], c["feed"], c["state"]) for c in listed] == [(ids["b"], "replay", "running")]
    roles = {c.labels["io.bosun-local.role"] for c in stack.containers(dep_id)}
    assert roles == {"champion", "challenger"}
    assert set(post(url, MIRRORED)) == {value["a"]}
    until("the challenger's replayed predictions in its stats",
          lambda: [m["predictions"] for m in compare(stack, dep_id).values()] == [MIRRORED, MIRRORED], 90, every=1.0)
    # A user can ask the challenger itself on its own path.
    direct = httpx.post(url.replace("/predictions", f"/challengers/{ids['b']}/predictions"), json=[ROW], timeout=30)
    assert direct.status_code == 200 and round(direct.json()["data"][0]["prediction"], 6) == value["b"], direct.text
    time.sleep(3)  # nothing more arrives: exactly N (and the direct one), no duplicates
    figures = compare(stack, dep_id)
    assert figures[ids["b"]]["predictions"] == MIRRORED + 1 and figures[ids["b"]]["role"] == "challenger"
    assert figures[ids["a"]]["predictions"] == MIRRORED and figures[ids["a"]]["errors"] == 0
    stack.cli("deployments", "challengers", "remove", dep_id, ids["b"], "--wait")

    # A mirrored challenger gets a copy of exactly the N requests; clients only ever see the champion's answers.
    stack.cli("deployments", "challengers", "add", dep_id, ids["b"], "--feed", "mirror", "--wait")
    services = yaml.safe_load(routes.read_text())["http"]["services"]  # inspectable, and what traefik reads
    (front,) = [s for s in services.values() if "mirroring" in s]
    assert [m["name"] for m in front["mirroring"]["mirrors"]] == [f"{stack.name}-{dep_id}-m-{ids['b']}@docker"]
    assert set(post(url, MIRRORED)) == {value["a"]}
    until("the challenger's mirrored predictions in its stats",
          lambda: [m["predictions"] for m in compare(stack, dep_id).values()] == [2 * MIRRORED, 2 * MIRRORED + 1],
          90, every=1.0)
    time.sleep(3)  # nothing more arrives: exactly N, no duplicates (nor a replay of the mirrored rows)
    figures = compare(stack, dep_id)
    assert figures[ids["b"]]["predictions"] == 2 * MIRRORED + 1 and figures[ids["b"]]["role"] == "challenger"
    assert figures[ids["a"]]["predictions"] == 2 * MIRRORED and figures[ids["a"]]["errors"] == 0
    assert stack.cli_json("stats", dep_id)["predictions"] == 2 * MIRRORED  # the deployment's own stats: clients only
    listed = stack.cli_json("deployments", "challengers", "list", dep_id)
    assert [(c["modelId"], c["feed"], c["state"]) for c in listed] == [(ids["b"], "mirror", "running")]

    # Promote the challenger under load: no failed request; the old champion stays on as a challenger.
    with Load(url) as load:
        stack.cli("deployments", "challengers", "promote", dep_id, ids["b"], "--wait")
    assert load.failures == [], load.failures[:5]
    assert set(load.answers) <= {value["a"], value["b"]} and value["b"] in load.answers
    assert set(post(url, 10)) == {value["b"]}
    assert [c["modelId"] for c in stack.cli_json("deployments", "challengers", "list", dep_id)] == [ids["a"]]
    stack.cli("deployments", "challengers", "remove", dep_id, ids["a"], "--wait")
    assert not routes.exists()  # no challenger, no canary: back to the label router
    assert {c.labels["io.bosun-local.role"] for c in stack.containers(dep_id)} == {"champion"}

    # Canary at 20 %: a bounded stream sends 20 % +- 5 % of its requests to the new model.
    stack.cli("deployments", "canary", "start", dep_id, ids["a"], "--percent", "20", "--wait")
    assert "weighted" in routes.read_text()
    shares = Counter(post(url, STREAM))
    assert set(shares) == {value["a"], value["b"]}
    assert abs(shares[value["a"]] / STREAM - 0.20) <= 0.05, shares
    status = stack.cli_json("deployments", "canary", "status", dep_id)
    assert status["canary"]["status"] == "running" and status["appliedPercent"] == 20

    # Promote the canary, then roll back, both under load: no failed request.
    with Load(url) as load:
        stack.cli("deployments", "canary", "promote", dep_id, "--wait")
    assert load.failures == [], load.failures[:5]
    assert set(post(url, 10)) == {value["a"]} and not routes.exists()
    with Load(url) as load:
        stack.cli("deployments", "rollback", dep_id, "--wait")
    assert load.failures == [], load.failures[:5]
    assert set(post(url, 10)) == {value["b"]}

    # A failing canary is rolled back automatically, with a failing event and a webhook.
    hook = Webhook()
    with stack.client() as client:
        client.create_notification(hook.url, name="canary", types=["canary_rolled_back"])
    bad = stack.cli_json("packages", "register", str(failing_package(tmp_path / "bad")))["id"]
    stack.cli("deployments", "canary", "start", dep_id, bad, "--percent", "50", "--step", "10", "--interval", "1s",
              "--wait")
    with httpx.Client(timeout=30) as http:
        def rolled_back() -> list[dict[str, Any]]:
            for _ in range(10):
                http.post(url, json=[ROW])
            with stack.client() as client:
                return client.list_events(deployment=dep_id, types=["canary_rolled_back"])
        (event,) = until("the automatic rollback of the failing canary", rolled_back, 120, every=0.5)
    assert event["status"] == "failing" and "rolled back automatically" in event["message"]
    # The plugin removes the canary's container only once traefik label-routes again: the rollback's last step
    # (the routes file goes first, and traefik takes a moment to drop it).
    until("the rollback applied",
          lambda: not routes.exists() and {c.labels["io.bosun-local.role"] for c in stack.containers(dep_id)}
          == {"champion"}, 60)
    assert set(post(url, 20)) == {value["b"]}
    until("the webhook of the rollback",
          lambda: [b for b in hook.bodies if b["event"]["type"] == "canary_rolled_back"], 30)
    assert stack.cli_json("deployments", "canary", "status", dep_id)["canary"]["status"] == "rolled_back"
    hook.server.shutdown()

    # History lists every change, oldest first, with why.
    history = stack.cli_json("deployments", "history", dep_id)
    assert [(h["modelId"], h["reason"]) for h in history] == [
        (ids["a"], "created"), (ids["b"], "challenger_promoted"), (ids["a"], "canary_promoted"),
        (ids["b"], "rollback")]
    text = stack.cli("deployments", "history", dep_id).stdout
    assert "challenger_promoted" in text and "rollback" in text
    events = {e["type"] for e in stack.cli_json("events", "--deployment", dep_id, "--limit", "500")}
    assert {"challenger_added", "challenger_promoted", "challenger_removed", "canary_started", "canary_promoted",
            "canary_rolled_back"} <= events
    stack.cli("deployments", "stop", dep_id, "--wait")
    assert stack.containers(dep_id) == []


def test_a_shared_deployment_has_challengers_and_promotes_one(stack: AgentEnv, tmp_path: Path) -> None:
    """The pool serves the champion; a challenger runs in the deployment's own stack, fed by replay."""
    dirs = {"a": diabetes_package(tmp_path / "a"), "b": diabetes_package(tmp_path / "b", alpha=10.0)}
    ids = {k: stack.cli_json("packages", "register", str(d))["id"] for k, d in dirs.items()}
    value = {k: prediction_of(d) for k, d in dirs.items()}
    dep = stack.cli_json("deploy", ids["a"], "--name", "pooled", "--kv", "serving=shared", "--wait")["deployment"]
    url, dep_id = dep["predictionUrl"], dep["id"]
    assert stack.containers(dep_id) == []  # served by the pool

    stack.cli("deployments", "challengers", "add", dep_id, ids["b"], "--wait")
    assert [c.labels["io.bosun-local.role"] for c in stack.containers(dep_id)] == ["challenger"]
    time.sleep(3)  # three status checks: the pool judges the deployment, its challenger container does not
    shown = stack.cli_json("deployments", "show", dep_id)
    assert shown["state"] == "ready" and shown["healthStatus"] != "failing", shown
    assert "deployment_relaunch" not in {a["type"] for a in shown["actions"]}, shown["actions"]
    assert set(post(url, MIRRORED)) == {value["a"]}
    until("the challenger's replayed predictions beside the pool's",
          lambda: [m["predictions"] for m in compare(stack, dep_id).values()] == [MIRRORED, MIRRORED], 90, every=1.0)

    # Promote under load: the pool swaps in the challenger's model; the old champion runs on as a challenger.
    with Load(url) as load:
        stack.cli("deployments", "challengers", "promote", dep_id, ids["b"], "--wait")
    assert load.failures == [], load.failures[:5]
    assert set(post(url, 10)) == {value["b"]}
    assert [c.labels["io.bosun-local.model"] for c in stack.containers(dep_id)] == [ids["a"]]
    assert [(c["modelId"], c["feed"]) for c in stack.cli_json("deployments", "challengers", "list", dep_id)] == [
        (ids["a"], "replay")]
    stack.cli("deployments", "stop", dep_id, "--wait")
    assert stack.containers(dep_id) == []
